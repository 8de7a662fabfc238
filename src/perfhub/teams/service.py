from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.errors import Conflict, NotFound, Unprocessable
from perfhub.teams.models import Team, TeamCoach, TeamMembership
from perfhub.teams.schemas import SIGNALS


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


def join_team(session: Session, team_id: int, athlete: User, share: set[str]) -> TeamMembership:
    """Add an athlete to a team; they share exactly the signals named, nothing else."""
    if session.get(Team, team_id) is None:
        raise NotFound(f"no team with id {team_id}")
    existing = session.scalar(
        select(TeamMembership).where(
            TeamMembership.team_id == team_id, TeamMembership.athlete_id == athlete.id
        )
    )
    if existing is not None:
        raise Conflict(f"{athlete.email} is already in team {team_id}")
    membership = TeamMembership(team_id=team_id, athlete_id=athlete.id)
    for signal in SIGNALS:
        setattr(membership, f"share_{signal}", signal in share)
    session.add(membership)
    session.flush()
    return membership
