"""Reads of teams for the people who run them: who is in each team and how many share each signal.

No athlete data: names and sharing counts only, which a coach may know of every member.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.teams.models import Team, TeamCoach, TeamMembership
from perfhub.teams.schemas import SIGNALS


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
