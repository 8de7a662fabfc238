"""What the pilot report times readiness by is what the real pipeline leaves behind: nights sent
through ingest, normalised and scored by the embedded bus on a frozen clock, then read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from tests.plans.plankit import nights

from perfhub.app import create_app
from perfhub.auth.service import create_user
from perfhub.core.db import session_scope
from perfhub.pipeline.runtime import Runtime
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_batch
from perfhub.reports.pilot import PilotReport
from perfhub.reports.service import PilotQuery, build_report
from perfhub.settings import Settings

pytestmark = pytest.mark.backends("sqlite")

DAY = date(2026, 2, 10)
OSLO, WEST = "Europe/Oslo", "Etc/GMT+12"  # UTC+1 and UTC−12 in February


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


Body = dict[str, list[dict[str, Any]]]


def send(runtime: Runtime, at: datetime, body: Body, *, drain_at: datetime) -> None:
    """Readings received at ``at``, normalised and scored at ``drain_at``."""
    with time_machine.travel(at, tick=False), session_scope(runtime.sessions) as session:
        hrv = [HrvIn.model_validate(r) for r in body["hrv"]]
        accept_batch(session, [*hrv, *(SleepIn.model_validate(r) for r in body["sleep"])])
    with time_machine.travel(drain_at, tick=False):
        runtime.bus.drain()


def night_of(athlete: int, woke: datetime, minutes: int = 460) -> Body:
    common = {"userId": athlete, "date": DAY.isoformat(), "vendor": "oura", "capturedAt": woke.isoformat()}
    return {
        "hrv": [{**common, "rMSSD": 61.0, "restingHr": 50.0}],
        "sleep": [{**common, "durationMin": minutes}],
    }


def report_on(runtime: Runtime) -> PilotReport:
    with runtime.sessions() as session:
        return build_report(session, PilotQuery(DAY, DAY), utc(DAY + timedelta(days=2), 12))


def test_readiness_is_timed_from_the_pipelines_own_events(settings: Settings) -> None:
    app = create_app(settings, run_workers=False)  # the bus is drained by hand, on the frozen clock
    runtime = app.state.runtime
    try:
        with session_scope(runtime.sessions) as session:
            early = create_user(session, "early@example.org", "athlete", tz=OSLO)[0].id
            late = create_user(session, "late@example.org", "athlete", tz=WEST)[0].id
        history = utc(DAY - timedelta(days=1), 12)
        for athlete in (early, late):
            send(runtime, history, nights(athlete, DAY - timedelta(days=1)), drain_at=history)
        # Oslo: woke at 06:00 (05:00 UTC), synced at 06:10, scored at 06:25 local.
        send(runtime, utc(DAY, 5, 10), night_of(early, utc(DAY, 5)), drain_at=utc(DAY, 5, 25))
        # UTC−12: woke at 06:00 (18:00 UTC), synced and scored at 09:30 local.
        send(runtime, utc(DAY, 21, 30), night_of(late, utc(DAY, 18)), drain_at=utc(DAY, 21, 30))
        report = report_on(runtime)
        (day,) = report.days
        assert (day.active, day.covered, day.before, day.nights, day.within) == (2, 2, 1, 2, 1)
        assert report.coverage.covered_by == {"events": 2, "computedAt": 0}
        # Two nights: 25 minutes (p50, the lower) and 3 h 30 (p99).
        assert (report.lag.percentiles[50], report.lag.percentiles[99]) == (25 * 60.0, 3.5 * 3600)
        assert report.lag.timed_by == {"events": 2, "computedAt": 0}

        # Oslo's night corrected in the evening (vendor time 19:00 UTC, arrived 20:00): the day is
        # recomputed and its computed_at moves; readiness was still there before 07:00.
        send(runtime, utc(DAY, 20), night_of(early, utc(DAY, 19), 430), drain_at=utc(DAY, 20))
        with runtime.sessions() as session:
            computed = session.scalar(
                select(ReadinessSnapshotRow.computed_at).where(
                    ReadinessSnapshotRow.user_id == early, ReadinessSnapshotRow.date == DAY
                )
            )
        assert computed == utc(DAY, 20)
        corrected = report_on(runtime)
        assert (corrected.days[0].covered, corrected.days[0].before) == (2, 1)
        # The row is the correction now: its lag runs from 19:00 to the readiness at 20:00.
        assert (corrected.lag.percentiles[50], corrected.lag.percentiles[99]) == (3600.0, 3.5 * 3600)
    finally:
        runtime.close()
