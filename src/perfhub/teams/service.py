"""Teams and who is in them: creating teams, their coaches, invitations and what each athlete
shares. Every rule of who may change what is here; services flush and never commit.

A team one has no part in is "not found" (404) to anyone but an admin, so that team ids cannot
be probed; an athlete of the team asking for a coach's action is refused (403).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import utcnow
from perfhub.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from perfhub.teams.models import Team, TeamCoach, TeamInvitation, TeamMembership, TeamMembershipSpan
from perfhub.teams.queries import (
    coaches_of,
    invitation_by_id,
    invitation_status,
    members_of,
    membership_of,
    relation_to,
    sharing_of,
)
from perfhub.teams.schemas import (
    SIGNALS,
    InvitationOut,
    MemberTeamOut,
    SharingOut,
    TeamDetailOut,
    TeamOut,
    email_address,
)

INVITATION_LIFETIME = timedelta(days=14)


def create_team(session: Session, name: str, coach: User) -> Team:
    name = name.strip()
    if not name:
        raise Unprocessable("a team needs a name", [{"loc": ["name"], "msg": "empty"}])
    if coach.role not in ("coach", "admin"):
        raise Unprocessable(
            f"{coach.email} is a {coach.role}, not a coach", [{"loc": ["coach"], "msg": "not a coach"}]
        )
    team = Team(name=name)
    session.add(team)
    session.flush()
    session.add(TeamCoach(team_id=team.id, coach_id=coach.id))
    session.flush()
    return team


def parse_signals(raw: str | Iterable[str] | None) -> set[str]:
    if raw is None:
        return set()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    signals = {item.strip() for item in items if item.strip()}
    unknown = sorted(signals - set(SIGNALS))
    if unknown:
        raise Unprocessable(
            f"unknown signal(s) {', '.join(unknown)}; choose from {', '.join(SIGNALS)}",
            [{"loc": ["share"], "msg": "unknown signal"}],
        )
    return signals


def join_team(
    session: Session, team_id: int, athlete: User, share: set[str], *, joined_at: datetime | None = None
) -> TeamMembership:
    """Add an athlete to a team; they share exactly the signals named, nothing else. ``joined_at``
    (default: now) is for seeded history, such as the demo's."""
    if session.get(Team, team_id) is None:
        raise NotFound(f"no team with id {team_id}")
    _lock_team(session, team_id)
    if membership_of(session, team_id, athlete.id) is not None:
        raise Conflict(f"{athlete.email} is already in team {team_id}")
    joined = joined_at or utcnow()
    membership = TeamMembership(team_id=team_id, athlete_id=athlete.id, joined_at=joined)
    for signal in SIGNALS:
        setattr(membership, f"share_{signal}", signal in share)
    session.add(membership)
    session.add(TeamMembershipSpan(team_id=team_id, athlete_id=athlete.id, joined_at=joined))
    session.flush()
    return membership


def _lock_team(session: Session, team_id: int) -> None:
    """Serialise changes to one team's coaches, invitations and members (PostgreSQL; SQLite has
    one writer at a time anyway). FOR NO KEY UPDATE: rows referencing the team are not blocked."""
    session.execute(select(Team.id).where(Team.id == team_id).with_for_update(key_share=True))


def _team_out(session: Session, team: Team) -> TeamOut:
    return TeamOut(id=team.id, name=team.name, coaches=coaches_of(session, [team.id])[team.id])


def coached_team(session: Session, actor: User, team_id: int, *, lock: bool = False) -> Team:
    """A team ``actor`` coaches (an admin: any team): 404 for strangers, 403 for its athletes."""
    found = relation_to(session, actor, team_id)
    if found is None:
        raise NotFound(f"no team with id {team_id}")
    team, relation = found
    if relation == "member":
        raise Forbidden("only the team's coaches and admins may do this")
    if lock:
        _lock_team(session, team_id)
    return team


def _coach_by_email(session: Session, email: str, field: str) -> User:
    # One answer for "no such person" and "not a coach": a coach cannot learn who has an account.
    coach = session.scalar(select(User).where(User.email == email, User.role == "coach"))
    if coach is None:
        raise Unprocessable(f"no coach with email {email}", [{"loc": ["body", field], "msg": "not a coach"}])
    return coach


def create_team_for(session: Session, actor: User, name: str, coach_email: str | None) -> TeamOut:
    """A coach creates a team they run; an admin creates one for the coach named (default: themself)."""
    if actor.role not in ("coach", "admin"):
        raise Forbidden("only coaches and admins create teams")
    coach = actor
    if coach_email is not None and coach_email != actor.email:
        if actor.role != "admin":
            raise Forbidden("only an admin names someone else as a team's coach")
        coach = _coach_by_email(session, coach_email, "coachEmail")
    return _team_out(session, create_team(session, name, coach))


def team_view(session: Session, viewer: User, team_id: int) -> TeamDetailOut | MemberTeamOut:
    """Coaches and admins see every member with what they share; an athlete of the team sees its
    coaches and what they themself share; anyone else, nothing (404)."""
    found = relation_to(session, viewer, team_id)
    if found is None:
        raise NotFound(f"no team with id {team_id}")
    team, relation = found
    out = _team_out(session, team)
    if relation == "member":
        (own,) = sharing_of(session, viewer.id, team_id)
        return MemberTeamOut(**out.model_dump(), sharing=own.signals)
    return TeamDetailOut(**out.model_dump(), members=members_of(session, team_id))


def add_coach(session: Session, actor: User, team_id: int, email: str) -> tuple[TeamOut, bool]:
    """Add a coach to a team; True when they were not one of its coaches before."""
    team = coached_team(session, actor, team_id, lock=True)
    coach = _coach_by_email(session, email, "email")
    known = session.scalar(
        select(TeamCoach.id).where(TeamCoach.team_id == team_id, TeamCoach.coach_id == coach.id)
    )
    if known is None:
        session.add(TeamCoach(team_id=team_id, coach_id=coach.id))
        session.flush()
    return _team_out(session, team), known is None


def remove_member(session: Session, actor: User, team_id: int, athlete_id: int) -> None:
    """A coach (or an admin) removes an athlete; an athlete leaves. What they shared with the team
    ends with the membership, at once."""
    found = relation_to(session, actor, team_id)
    if found is None:
        raise NotFound(f"no team with id {team_id}")
    _, relation = found
    membership = membership_of(session, team_id, athlete_id)
    # An athlete may not learn who else is in the team: anyone but themself is "not found".
    if membership is None or (relation == "member" and athlete_id != actor.id):
        raise NotFound(f"no athlete {athlete_id} in team {team_id}")
    session.delete(membership)
    _end_spans(session, team_id, athlete_id)
    session.flush()


def _end_spans(session: Session, team_id: int, athlete_id: int) -> None:
    session.execute(
        update(TeamMembershipSpan)
        .where(
            TeamMembershipSpan.team_id == team_id,
            TeamMembershipSpan.athlete_id == athlete_id,
            TeamMembershipSpan.left_at.is_(None),
        )
        .values(left_at=utcnow())
    )


def invite(session: Session, actor: User, team_id: int, email: str) -> tuple[InvitationOut, bool]:
    """Invite ``email`` to a team for 14 days; True when new. Inviting again while an invitation
    is pending answers that one, so a repeated request makes no second invitation."""
    coached_team(session, actor, team_id)
    return open_invitation(session, team_id, email, invited_by_id=actor.id)


def open_invitation(
    session: Session, team_id: int, email: str, *, invited_by_id: int | None
) -> tuple[InvitationOut, bool]:
    """:func:`invite` without asking who invites (the command line's operator is no one)."""
    try:
        email = email_address(email)
    except ValueError as exc:
        raise Unprocessable(
            f"not an email address: {email!r}", [{"loc": ["email"], "msg": str(exc)}]
        ) from exc
    if session.get(Team, team_id) is None:
        raise NotFound(f"no team with id {team_id}")
    _lock_team(session, team_id)
    now = utcnow()
    member = session.scalar(
        select(User.id)
        .join(TeamMembership, TeamMembership.athlete_id == User.id)
        .where(User.email == email, TeamMembership.team_id == team_id)
    )
    if member is not None:
        raise Conflict(f"{email} is already in team {team_id}")
    pending = session.scalar(
        select(TeamInvitation.id)
        .where(
            TeamInvitation.team_id == team_id,
            TeamInvitation.email == email,
            TeamInvitation.status == "pending",
            TeamInvitation.expires_at > now,
        )
        .order_by(TeamInvitation.id.desc())
        .limit(1)
    )
    created = pending is None
    if pending is None:
        invitation = TeamInvitation(
            team_id=team_id,
            email=email,
            invited_by_id=invited_by_id,
            status="pending",
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        session.add(invitation)
        session.flush()
        pending = invitation.id
    found = invitation_by_id(session, pending, now)
    assert found is not None  # written or read in this transaction, under the team's lock
    return found, created


def _locked_invitation(session: Session, invitation_id: int) -> TeamInvitation | None:
    # FOR UPDATE: two answers to one invitation (a retried request) take turns, and the second
    # sees what the first did.
    return session.scalar(
        select(TeamInvitation)
        .where(TeamInvitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def revoke_invitation(session: Session, actor: User, team_id: int, invitation_id: int) -> None:
    """Withdraw a pending invitation (one revoked already stays so); an answered one is 409."""
    coached_team(session, actor, team_id)
    invitation = _locked_invitation(session, invitation_id)
    if invitation is None or invitation.team_id != team_id:
        raise NotFound(f"no invitation {invitation_id} in team {team_id}")
    if invitation.status in ("accepted", "declined"):
        raise Conflict(
            f"invitation {invitation_id} was {invitation.status} already", reason=invitation.status
        )
    invitation.status = "revoked"
    session.flush()


def _received(session: Session, actor: User, invitation_id: int) -> TeamInvitation:
    """An invitation addressed to ``actor``, locked; anyone else's is "not found"."""
    invitation = _locked_invitation(session, invitation_id)
    if invitation is None or invitation.email != actor.email.strip().lower():
        raise NotFound(f"no invitation with id {invitation_id}")
    return invitation


def _still_open(invitation: TeamInvitation, now: datetime) -> None:
    status = invitation_status(invitation, now)
    if status == "pending":
        return
    detail = {
        "accepted": "this invitation was accepted already",
        "declined": "you declined this invitation; ask the team's coach for a new one",
        "revoked": "the team's coach withdrew this invitation",
        "expired": f"this invitation expired at {invitation.expires_at.isoformat()}; "
        "ask the team's coach for a new one",
    }[status]
    raise Conflict(detail, reason=status)


def accept_invitation(session: Session, actor: User, invitation_id: int, share: Iterable[str]) -> SharingOut:
    """Join the invitation's team sharing exactly ``share``. Accepting again changes nothing and
    answers what is shared now (PUT /sharing changes that)."""
    invitation = _received(session, actor, invitation_id)
    if actor.role != "athlete":
        raise Forbidden("only athletes join teams")
    if invitation.status == "accepted":
        current = sharing_of(session, actor.id, invitation.team_id)
        if not current:
            raise Conflict(
                "you accepted this invitation and have left the team since; ask its coach for a new one",
                reason="left",
            )
        return current[0]
    now = utcnow()
    _still_open(invitation, now)
    if membership_of(session, invitation.team_id, actor.id) is not None:
        raise Conflict(
            f"you are in team {invitation.team_id} already; change what it sees with PUT /sharing/{{teamId}}",
            reason="member",
        )
    join_team(session, invitation.team_id, actor, set(share))
    invitation.status = "accepted"
    invitation.responded_at = now
    session.flush()
    (joined,) = sharing_of(session, actor.id, invitation.team_id)
    return joined


def decline_invitation(session: Session, actor: User, invitation_id: int) -> InvitationOut:
    """Say no to an invitation; declining again changes nothing."""
    invitation = _received(session, actor, invitation_id)
    now = utcnow()
    if invitation.status != "declined":
        _still_open(invitation, now)
        invitation.status = "declined"
        invitation.responded_at = now
        session.flush()
    found = invitation_by_id(session, invitation_id, now)
    assert found is not None  # locked above
    return found


def update_sharing(session: Session, actor: User, team_id: int, changes: dict[str, bool]) -> SharingOut:
    """Turn signals on or off for one team. Nothing caches grants: the next read obeys it."""
    if actor.role != "athlete":
        raise Forbidden("only athletes share their data with teams")
    membership = membership_of(session, team_id, actor.id)
    if membership is None:
        raise NotFound(f"you are not in a team with id {team_id}")
    for signal, shared in changes.items():
        setattr(membership, f"share_{signal}", shared)
    session.flush()
    (updated,) = sharing_of(session, actor.id, team_id)
    return updated
