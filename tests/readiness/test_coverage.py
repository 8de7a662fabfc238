"""The insights coverage gauge: athletes with a readiness score for their local today, among
those whose night has arrived (readiness.service.coverage). Real SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.service import create_user
from perfhub.core.dates import local_today
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.service import Coverage, coverage, coverage_counts
from perfhub.readings.models import HrvDaily, SleepDaily

pytestmark = pytest.mark.backends("sqlite", "postgres")

# 11:30 UTC on 30 November: 01:30 on 1 December in Kiritimati (UTC+14), 23:30 on 29 November
# in Baker Island time (UTC−12), 12:30 on 30 November in Oslo.
NOW = datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
EAST, WEST, OSLO = "Pacific/Kiritimati", "Etc/GMT+12", "Europe/Oslo"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def athlete(
    session: Session, tz: str, night: date | None, score: float | None, *, sleep_only: bool = False
) -> None:
    user, _ = create_user(session, f"cov-{uuid.uuid4().hex[:8]}@example.org", "athlete", tz=tz)
    if night is not None:
        at = datetime.combine(night, NOW.timetz())
        if sleep_only:
            session.add(
                SleepDaily(user_id=user.id, date=night, duration_min=420.0, vendor="oura", captured_at=at)
            )
        else:
            session.add(HrvDaily(user_id=user.id, date=night, rmssd_ms=55.0, vendor="oura", captured_at=at))
            session.add(
                HrvDaily(
                    user_id=user.id,
                    date=night - timedelta(days=1),
                    rmssd_ms=50.0,
                    vendor="oura",
                    captured_at=at,
                )
            )
        session.add(
            ReadinessSnapshotRow(
                user_id=user.id,
                date=night,
                algorithm_version=ALGORITHM_VERSION,
                score=score,
                band=None if score is None else "normal",
                status=None if score is None else "full",
                reason="calibrating" if score is None else None,
                inputs_hash="x",
            )
        )
    session.flush()


def test_coverage_counts_scores_among_the_athletes_whose_night_has_arrived(
    sessions: sessionmaker[Session],
) -> None:
    with session_scope(sessions) as session:
        assert coverage(session, NOW) is None  # nobody's night has arrived: no figure, not 0
        assert coverage_counts(session, NOW) == Coverage(arrived=0, scored=0)
        # Oslo's today is 30 November; Kiritimati's is already 1 December; Baker's 29 November.
        athlete(session, OSLO, local_today(OSLO, NOW), 72.0)  # covered
        athlete(session, OSLO, local_today(OSLO, NOW), None)  # calibrating: not covered
        athlete(session, OSLO, local_today(OSLO, NOW), 80.0, sleep_only=True)  # covered
        athlete(session, EAST, local_today(EAST, NOW), 66.0)  # covered, on its own date
        athlete(session, WEST, local_today(WEST, NOW), None)  # not covered
        # Last night not arrived yet (only yesterday's): neither covered nor missing.
        athlete(session, OSLO, local_today(OSLO, NOW) - timedelta(days=1), 70.0)
        athlete(session, EAST, local_today(EAST, NOW) - timedelta(days=1), 70.0)
    with session_scope(sessions) as session:
        assert coverage(session, NOW) == pytest.approx(3 / 5)
        assert coverage_counts(session, NOW) == Coverage(arrived=5, scored=3)
        # An older algorithm version's score does not count.
        session.execute(
            ReadinessSnapshotRow.__table__.update()  # type: ignore[attr-defined]
            .where(ReadinessSnapshotRow.score == 66.0)
            .values(algorithm_version="1.0.0")
        )
        assert coverage(session, NOW) == pytest.approx(2 / 5)
