"""Reads of teams: who runs and who is in each team, what each member shares, and invitations.

No athlete data: names, memberships and sharing settings only, which a team's coaches may know of
every member and an athlete of themself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.teams.models import Team, TeamCoach, TeamInvitation, TeamMembership
from perfhub.teams.schemas import (
    SIGNALS,
    InvitationOut,
    InvitationStatus,
    MemberOut,
    Person,
    ReceivedInvitationOut,
    Sharing,
    SharingOut,
    TeamSummaryOut,
)

Relation = Literal["coach", "admin", "member"]


@dataclass(frozen=True)
class Member:
    athlete_id: int
    name: str
    shares: tuple[str, ...]  # in the order of SIGNALS


@dataclass(frozen=True)
class Roster:
    """A team with its coach and members (by name), and how many members share each signal."""

    id: int
    name: str
    coach_name: str
    members: list[Member] = field(default_factory=list)

    def sharing(self) -> dict[str, int]:
        return {signal: sum(signal in m.shares for m in self.members) for signal in SIGNALS}


def _display_name(user: User) -> str:
    return user.name or user.email


def rosters_for(session: Session, viewer: User) -> list[Roster]:
    """The teams ``viewer`` runs (an admin: every team), by name, each with its members by name."""
    query = select(Team).order_by(Team.name, Team.id)
    if viewer.role != "admin":
        query = query.where(Team.id.in_(select(TeamCoach.team_id).where(TeamCoach.coach_id == viewer.id)))
    found = list(session.scalars(query))
    if not found:
        return []
    coaches: dict[int, list[str]] = defaultdict(list)
    for team_id, coach in session.execute(
        select(TeamCoach.team_id, User)
        .join(User, User.id == TeamCoach.coach_id)
        .where(TeamCoach.team_id.in_([team.id for team in found]))
        .order_by(TeamCoach.added_at, TeamCoach.id)
    ):
        coaches[team_id].append(_display_name(coach))
    teams = [(team, ", ".join(coaches[team.id])) for team in found]
    members: dict[int, list[Member]] = defaultdict(list)
    rows = session.execute(
        select(TeamMembership, User)
        .join(User, User.id == TeamMembership.athlete_id)
        .where(TeamMembership.team_id.in_([team.id for team, _ in teams]))
        .order_by(func.lower(func.coalesce(func.nullif(User.name, ""), User.email)), User.id)
    )
    for membership, athlete in rows:
        shares = tuple(signal for signal, shared in membership.sharing().items() if shared)
        members[membership.team_id].append(Member(athlete.id, _display_name(athlete), shares))
    return [Roster(team.id, team.name, coach_names, members[team.id]) for team, coach_names in teams]


def count_teams(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Team)) or 0)


def _sort_name(user: type[User]) -> ColumnElement[str]:
    return func.lower(func.coalesce(func.nullif(user.name, ""), user.email))


def coaches_of(session: Session, team_ids: Collection[int]) -> dict[int, list[Person]]:
    """Each team's coaches, in the order they were added."""
    coaches: dict[int, list[Person]] = defaultdict(list)
    if not team_ids:
        return coaches
    for team_id, coach in session.execute(
        select(TeamCoach.team_id, User)
        .join(User, User.id == TeamCoach.coach_id)
        .where(TeamCoach.team_id.in_(list(team_ids)))
        .order_by(TeamCoach.added_at, TeamCoach.id)
    ):
        coaches[team_id].append(Person(id=coach.id, name=_display_name(coach)))
    return coaches


def team_summaries(session: Session, viewer: User) -> list[TeamSummaryOut]:
    """The teams ``viewer`` coaches or belongs to (an admin: every team), by name."""
    coached = select(TeamCoach.team_id).where(TeamCoach.coach_id == viewer.id)
    joined = select(TeamMembership.team_id).where(TeamMembership.athlete_id == viewer.id)
    athletes = (
        select(TeamMembership.team_id, func.count().label("athletes"))
        .group_by(TeamMembership.team_id)
        .subquery()
    )
    stmt = (
        select(
            Team.id,
            Team.name,
            Team.id.in_(coached).label("coach"),
            Team.id.in_(joined).label("member"),
            func.coalesce(athletes.c.athletes, 0),
        )
        .outerjoin(athletes, athletes.c.team_id == Team.id)
        .order_by(func.lower(Team.name), Team.id)
    )
    if viewer.role != "admin":
        stmt = stmt.where(Team.id.in_(coached) | Team.id.in_(joined))
    rows = session.execute(stmt).all()
    coaches = coaches_of(session, [row[0] for row in rows])
    return [
        TeamSummaryOut(
            id=team_id,
            name=name,
            coaches=coaches[team_id],
            role="coach" if coach else "member" if member else "admin",
            athlete_count=int(count),
        )
        for team_id, name, coach, member, count in rows
    ]


def relation_to(session: Session, viewer: User, team_id: int) -> tuple[Team, Relation] | None:
    """The team and what ``viewer`` is in it; None when the viewer may not know it exists."""
    is_coach = exists().where(TeamCoach.team_id == Team.id, TeamCoach.coach_id == viewer.id)
    is_member = exists().where(TeamMembership.team_id == Team.id, TeamMembership.athlete_id == viewer.id)
    row = session.execute(select(Team, is_coach, is_member).where(Team.id == team_id)).first()
    if row is None:
        return None
    team, coach, member = row
    if coach:
        return team, "coach"
    if viewer.role == "admin":
        return team, "admin"
    if member:
        return team, "member"
    return None


def members_of(session: Session, team_id: int) -> list[MemberOut]:
    """A team's athletes by name, each with what they share with it."""
    rows = session.execute(
        select(TeamMembership, User)
        .join(User, User.id == TeamMembership.athlete_id)
        .where(TeamMembership.team_id == team_id)
        .order_by(_sort_name(User), User.id)
    )
    return [
        MemberOut(
            athlete_id=athlete.id,
            name=_display_name(athlete),
            sharing=Sharing(**membership.sharing()),
            joined_at=membership.joined_at,
        )
        for membership, athlete in rows
    ]


def membership_of(session: Session, team_id: int, athlete_id: int) -> TeamMembership | None:
    return session.scalar(
        select(TeamMembership).where(
            TeamMembership.team_id == team_id, TeamMembership.athlete_id == athlete_id
        )
    )


def sharing_of(session: Session, athlete_id: int, team_id: int | None = None) -> list[SharingOut]:
    """What ``athlete_id`` shares with each of their teams (or with ``team_id``), by team name."""
    stmt = (
        select(TeamMembership, Team.name)
        .join(Team, Team.id == TeamMembership.team_id)
        .where(TeamMembership.athlete_id == athlete_id)
        .order_by(func.lower(Team.name), Team.id)
    )
    if team_id is not None:
        stmt = stmt.where(TeamMembership.team_id == team_id)
    return [
        SharingOut(team_id=membership.team_id, team_name=name, signals=Sharing(**membership.sharing()))
        for membership, name in session.execute(stmt)
    ]


def invitation_status(invitation: TeamInvitation, now: datetime) -> InvitationStatus:
    if invitation.status == "pending" and invitation.expires_at <= now:
        return "expired"  # valid until its expiry, not at it
    return cast(InvitationStatus, invitation.status)  # one of models.INVITATION_STATUSES


def _invitations() -> Select[TeamInvitation, str, User]:
    # The inviter is outer-joined: null once they are removed (the invitation stays valid).
    return (
        select(TeamInvitation, Team.name, User)
        .join(Team, Team.id == TeamInvitation.team_id)
        .outerjoin(User, User.id == TeamInvitation.invited_by_id)
        .order_by(TeamInvitation.created_at.desc(), TeamInvitation.id.desc())
    )


def invitation_out(
    invitation: TeamInvitation, team_name: str, inviter: User | None, now: datetime
) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        team_id=invitation.team_id,
        team_name=team_name,
        email=invitation.email,
        status=invitation_status(invitation, now),
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        responded_at=invitation.responded_at,
        invited_by=None if inviter is None else Person(id=inviter.id, name=_display_name(inviter)),
    )


def invitation_by_id(session: Session, invitation_id: int, now: datetime) -> InvitationOut | None:
    row = session.execute(_invitations().where(TeamInvitation.id == invitation_id)).first()
    if row is None:
        return None
    invitation, team_name, inviter = row
    return invitation_out(invitation, team_name, inviter, now)


def team_invitations(session: Session, team_id: int, now: datetime) -> list[InvitationOut]:
    """Every invitation of a team, answered or not, newest first."""
    rows = session.execute(_invitations().where(TeamInvitation.team_id == team_id))
    return [invitation_out(invitation, name, inviter, now) for invitation, name, inviter in rows]


def received_invitations(session: Session, email: str, now: datetime) -> list[ReceivedInvitationOut]:
    """The invitations addressed to ``email`` that can still be answered, newest first, with who
    runs each team."""
    rows = session.execute(
        _invitations().where(
            TeamInvitation.email == email.strip().lower(),
            TeamInvitation.status == "pending",
            TeamInvitation.expires_at > now,
        )
    ).all()
    coaches = coaches_of(session, {invitation.team_id for invitation, _, _ in rows})
    return [
        ReceivedInvitationOut(
            **invitation_out(invitation, name, inviter, now).model_dump(), coaches=coaches[invitation.team_id]
        )
        for invitation, name, inviter in rows
    ]
