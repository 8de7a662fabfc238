"""A team with history, written straight into the canonical tables (the ingest path is tested
elsewhere; these tests are about reading a team), and readiness recomputed as the pipeline would."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.conftest import Harness

from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.dates import local_today
from perfhub.core.db import session_scope
from perfhub.core.upsert import insert_rows
from perfhub.privacy.models import AuditEntry
from perfhub.readiness.service import recompute
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.teams.models import TeamMembership
from perfhub.teams.schemas import SIGNALS
from perfhub.teams.service import create_team, join_team

API = "/api/v1"


@dataclass(frozen=True)
class Shape:
    """How an athlete's last nights go: ``sick`` nights of low HRV and high resting HR (illness,
    HRV below range), ``short`` short nights (sleep debt); ``gap`` days without data at the end."""

    sick: int = 0
    short: int = 0
    gap: int = 0
    seed: int = 1
    nights: int | None = None  # instead of the team's


def history_rows(user_id: int, end: date, nights: int, shape: Shape) -> tuple[list[dict[str, Any]], ...]:
    rng = np.random.default_rng(shape.seed)
    captured = datetime.now(UTC)
    hrv, sleep = [], []
    for back in range(nights - 1, -1, -1):
        if back < shape.gap:
            continue
        day = end - timedelta(days=back)
        rmssd, rhr = 60.0 * math.exp(rng.normal(0, 0.05)), 50.0 + rng.normal(0, 1.0)
        if back - shape.gap < shape.sick:
            rmssd, rhr = 40.0, 58.0
        minutes = 330.0 if back - shape.gap < shape.short else 470.0 + rng.normal(0, 10)
        hrv.append(
            {
                "user_id": user_id,
                "date": day,
                "vendor": "oura",
                "rmssd_ms": round(rmssd, 1),
                "ln_rmssd": math.log(round(rmssd, 1)),
                "sdnn_ms": None,
                "resting_hr": round(rhr, 1),
                "captured_at": captured,
            }
        )
        sleep.append(
            {
                "user_id": user_id,
                "date": day,
                "vendor": "oura",
                "duration_min": round(minutes, 1),
                "efficiency_pct": 80.0 if back - shape.gap < shape.short else 91.0,
                "latency_min": 10.0,
                "wake_count": 1,
                "captured_at": captured,
            }
        )
    return hrv, sleep


def write_history(session: Session, users: Sequence[User], nights: int, shapes: dict[int, Shape]) -> None:
    hrv: list[dict[str, Any]] = []
    sleep: list[dict[str, Any]] = []
    for user in users:
        shape = shapes.get(user.id, Shape(seed=user.id))
        h, s = history_rows(user.id, local_today(user.tz), shape.nights or nights, shape)
        hrv += h
        sleep += s
    insert_rows(session, cast(Table, HrvDaily.__table__), hrv)
    insert_rows(session, cast(Table, SleepDaily.__table__), sleep)
    recompute(session, list(users), announce=False)


@dataclass
class Team:
    id: int
    coach: dict[str, Any]
    athletes: list[dict[str, Any]] = field(default_factory=list)


def make_team(
    harness: Harness,
    shares: Sequence[Iterable[str]],
    *,
    names: Sequence[str] | None = None,
    tzs: Sequence[str] | None = None,
    shapes: Sequence[Shape] | None = None,
    nights: int = 40,
    with_history: Sequence[bool] | None = None,
) -> Team:
    """A coach and one athlete per entry of ``shares`` (what each shares with the team)."""
    coach = harness.user("coach")
    with session_scope(harness.runtime.sessions) as session:
        coach_user = session.get(User, coach["id"])
        assert coach_user is not None
        team = Team(create_team(session, "Squad", coach_user).id, coach)
        users = []
        for index, share in enumerate(shares):
            user, token = create_user(
                session,
                f"athlete{index}-{team.id}@example.org",
                "athlete",
                tz=(tzs or ["UTC"] * len(shares))[index],
            )
            user.name = (names or [f"Athlete {index:02d}" for index in range(len(shares))])[index]
            join_team(session, team.id, user, set(share))
            team.athletes.append(
                {
                    "id": user.id,
                    "email": user.email,
                    "name": user.name,
                    "headers": {"Authorization": f"Bearer {token}"},
                }
            )
            if with_history is None or with_history[index]:
                users.append(user)
        session.flush()
        chosen = {user.id: (shapes or [])[i] for i, user in enumerate(users) if shapes and i < len(shapes)}
        write_history(session, users, nights, chosen)
    return team


def share(harness: Harness, team_id: int, athlete_id: int, signals: Iterable[str]) -> None:
    """Change what an athlete shares with a team, as PUT /sharing does (the row itself)."""
    wanted = set(signals)
    with session_scope(harness.runtime.sessions) as session:
        membership = session.scalar(
            select(TeamMembership).where(
                TeamMembership.team_id == team_id, TeamMembership.athlete_id == athlete_id
            )
        )
        assert membership is not None
        for signal in SIGNALS:
            setattr(membership, f"share_{signal}", signal in wanted)


def audit_of(harness: Harness, actor_id: int) -> list[tuple[int, list[str], str]]:
    with harness.runtime.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.actor_id == actor_id).order_by(AuditEntry.id)
        )
        return [(row.subject_id, list(row.signals), row.path) for row in rows]


class StatementCounter:
    """Counts the statements requests send to the database while active (executemany counts once).

    The embedded deployment's own threads (the bus polling its outbox, the schedules) are left
    out: they run whenever they like, not because of a request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not threading.current_thread().name.startswith("perfhub-"):
            self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)
