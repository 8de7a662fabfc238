"""A new algorithm version recomputes history and keeps the old rows (readiness.upgrade).

Real SQLite and PostgreSQL; the clock frozen at noon in Oslo.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import time_machine
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.readiness.engine import ALGORITHM_VERSION, compute, hashing
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.service import ensure_today, recompute
from perfhub.readiness.upgrade import athletes_behind, catch_up
from perfhub.readings.models import HrvDaily, SleepDaily

pytestmark = pytest.mark.backends("sqlite", "postgres")

TZ = "Europe/Oslo"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NIGHTS = 90
OLD = "1.0.0"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def athlete_with_nights(session: Session, seed: int) -> User:
    user, _ = create_user(session, f"up-{uuid.uuid4().hex[:8]}@example.org", "athlete", tz=TZ)
    rng = np.random.default_rng(seed)
    first = NOW.date() - timedelta(days=NIGHTS - 1)
    for k in range(NIGHTS):
        day = first + timedelta(days=k)
        session.add(
            HrvDaily(
                user_id=user.id,
                date=day,
                rmssd_ms=float(np.exp(4.0 + rng.normal(0, 0.08))),
                ln_rmssd=None,
                resting_hr=float(50 + rng.normal(0, 1.5)),
                vendor="oura",
                captured_at=datetime.combine(day, NOW.timetz()),
            )
        )
        session.add(
            SleepDaily(
                user_id=user.id,
                date=day,
                duration_min=float(440 + rng.normal(0, 25)),
                vendor="oura",
                captured_at=datetime.combine(day, NOW.timetz()),
            )
        )
    session.flush()
    return user


def versions(session: Session, user_id: int) -> dict[str, tuple[int, date]]:
    row = ReadinessSnapshotRow
    found = session.execute(
        select(row.algorithm_version, func.count(), func.min(row.date))
        .where(row.user_id == user_id)
        .group_by(row.algorithm_version)
    )
    return {version: (count, first) for version, count, first in found}


def test_history_stored_under_an_older_version_is_recomputed_under_the_running_one(
    sessions: sessionmaker[Session],
) -> None:
    with time_machine.travel(NOW, tick=False):
        with session_scope(sessions) as session:
            upgraded, current = athlete_with_nights(session, 1), athlete_with_nights(session, 2)
            recompute(session, [upgraded, current], announce=False)
            ids = (upgraded.id, current.id)
        with session_scope(sessions) as session:
            # As if `upgraded` had only been computed by the previous version, and the new one
            # had since materialised today's snapshot on a request.
            session.execute(
                update(ReadinessSnapshotRow)
                .where(ReadinessSnapshotRow.user_id == ids[0])
                .values(algorithm_version=OLD)
            )
            before = versions(session, ids[0])
            assert set(before) == {OLD}
            user = session.get(User, ids[0])
            assert user is not None
            ensure_today(session, user)
        with session_scope(sessions) as session:
            assert athletes_behind(session) == [ids[0]]  # the other one is up to date
            assert versions(session, ids[0])[ALGORITHM_VERSION][0] == 1  # today only

        assert catch_up(sessions) == 1
        with session_scope(sessions) as session:
            after = versions(session, ids[0])
            assert after[OLD] == before[OLD]  # the old rows stay
            count, first = after[ALGORITHM_VERSION]
            assert (count, first) == before[OLD]  # every day again, from the first
            assert athletes_behind(session) == []
        assert catch_up(sessions) == 0  # nothing left: a second start does nothing


def scores(session: Session, user_id: int) -> dict[date, float | None]:
    row = ReadinessSnapshotRow
    found = session.execute(
        select(row.date, row.score).where(row.user_id == user_id, row.algorithm_version == ALGORITHM_VERSION)
    )
    return {day: score for day, score in found}


def test_a_rules_revision_makes_a_recompute_rewrite_what_the_change_moved(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with time_machine.travel(NOW, tick=False):
        with session_scope(sessions) as session:
            user = athlete_with_nights(session, 3)
            recompute(session, [user], announce=False)
            uid = user.id
        with session_scope(sessions) as session:
            first = scores(session, uid)
        # A tuning under the same version: sleep weighs more.
        monkeypatch.setitem(compute.WEIGHTS, "sleep", 0.6)
        with session_scope(sessions) as session:
            user = session.get(User, uid)
            assert user is not None
            recompute(session, [user], announce=False)
        with session_scope(sessions) as session:
            # The inputs did not change, so without a new revision nothing is rewritten.
            assert scores(session, uid) == first
        monkeypatch.setattr(hashing, "RULES_REVISION", hashing.RULES_REVISION + 1)
        with session_scope(sessions) as session:
            user = session.get(User, uid)
            assert user is not None
            recompute(session, [user], announce=False)
        with session_scope(sessions) as session:
            second = scores(session, uid)
    assert second.keys() == first.keys()
    moved = [day for day in first if first[day] != second[day]]
    assert len(moved) > len(first) // 2
