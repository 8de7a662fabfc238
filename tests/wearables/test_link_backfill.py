"""A new link backfills 90 days of history through the pipeline: link → chunks in the ingest
stage → canonical rows and readiness, with progress in ``GET /connections``.

Embedded deployment on SQLite and PostgreSQL against the vendor fakes. The bus thread is
stopped so each test steps the pipeline itself, and "now" is fixed through the runtime's
clock: nothing depends on the hour the tests run at.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import Harness
from tests.fakes import FakeVendor
from tests.fakes.oura import FakeOura, sleep_doc
from tests.fakes.whoop import FakeWhoop
from tests.wearables.conftest import VendorApp, link_athlete

from perfhub.core.db import session_scope, utcnow
from perfhub.core.outbox import BACKFILL_REQUESTED, DeadLetter, Event, OutboxRow, publish, replay_dead_letters
from perfhub.pipeline.stages.ingest import handle_backfill_requested
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily
from perfhub.wearables import backfill
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.vendors.http import RetryPolicy
from perfhub.wearables.vendors.registry import use_retry_policy

pytestmark = pytest.mark.backends("sqlite", "postgres")

# 23:30 UTC: a fixed "now" near the end of a UTC day, so a backfill window computed from the
# real clock (or in UTC instead of the athlete's zone) would show.
NOW = datetime(2026, 6, 15, 23, 30, tzinfo=UTC)
TODAY = date(2026, 6, 15)
FIRST = TODAY - timedelta(days=89)
WINDOW = {TODAY - timedelta(days=back) for back in range(90)}


@pytest.fixture
def waits() -> Iterator[list[float]]:
    """Vendor retry waits are recorded, not slept."""
    slept: list[float] = []
    use_retry_policy(RetryPolicy(sleep=slept.append, random=lambda: 0.5))
    yield slept
    use_retry_policy(None)


@contextmanager
def vendor_harness(vendor_app: VendorApp, fake: FakeVendor) -> Iterator[Harness]:
    with vendor_app(fake) as harness:
        harness.runtime.clock = lambda: NOW
        harness.runtime.bus.stop()  # the test steps the pipeline
        yield harness


@pytest.fixture
def oura() -> FakeOura:
    return FakeOura()


@pytest.fixture
def harness(vendor_app: VendorApp, oura: FakeOura, waits: list[float]) -> Iterator[Harness]:
    with vendor_harness(vendor_app, oura) as harness:
        yield harness


def seed_oura(fake: FakeOura, nights: int = 95) -> str:
    """Nights up to TODAY; the five oldest lie before the backfill window."""
    user = fake.add_user()
    for back in range(nights):
        day = (TODAY - timedelta(days=back)).isoformat()
        fake.put(user, "sleep", sleep_doc(day, id=f"n-{back}", average_hrv=45.0 + back % 7 * 3))
    return user


def progress(harness: Harness, athlete: dict[str, Any]) -> dict[str, Any]:
    (connection,) = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
    return dict(connection["backfill"])


def hrv_days(harness: Harness, user_id: int) -> set[date]:
    with harness.runtime.sessions() as session:
        return set(session.scalars(select(HrvDaily.date).where(HrvDaily.user_id == user_id)))


def readiness(harness: Harness, user_id: int, day: date) -> ReadinessSnapshotRow | None:
    with harness.runtime.sessions() as session:
        return session.scalar(
            select(ReadinessSnapshotRow).where(
                ReadinessSnapshotRow.user_id == user_id,
                ReadinessSnapshotRow.date == day,
                ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
            )
        )


def count(harness: Harness, model: Any) -> int:
    with harness.runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def chunk_starts(fake: FakeOura) -> list[str]:
    """The first day of each range asked for at Oura, in order (not again for its next pages)."""
    return [
        call.params["start_date"]
        for call in fake.calls("/usercollection/sleep")
        if "next_token" not in call.params
    ]


def test_link_backfills_90_days_newest_first_with_progress(harness: Harness, oura: FakeOura) -> None:
    athlete = harness.user()
    oura_user = seed_oura(oura)
    link_athlete(harness, oura, athlete, oura_user)
    # The callback only exchanged the code and asked who the athlete is: no history yet.
    assert [call.path for call in oura.requests] == [
        "/oauth/authorize",
        "/oauth/token",
        "/v2/usercollection/personal_info",
    ]
    assert progress(harness, athlete) == {
        "status": "queued",
        "from": FIRST.isoformat(),
        "to": TODAY.isoformat(),
        "daysDone": 0,
        "daysTotal": 90,
        "records": 0,
        "error": None,
        "startedAt": None,
        "finishedAt": None,
    }

    harness.runtime.bus.run_once()  # one pass: the first chunk, then normalize and insights on it
    running = progress(harness, athlete)
    assert (running["status"], running["daysDone"], running["records"]) == ("running", 30, 30)
    assert running["startedAt"] is not None and running["finishedAt"] is None
    assert hrv_days(harness, athlete["id"]) == {TODAY - timedelta(days=back) for back in range(30)}
    first = readiness(harness, athlete["id"], TODAY)
    assert first is not None and first.score is not None and first.status == "provisional"

    harness.drain()
    done = progress(harness, athlete)
    assert (done["status"], done["daysDone"], done["records"], done["error"]) == ("done", 90, 90, None)
    assert done["finishedAt"] >= done["startedAt"]
    assert hrv_days(harness, athlete["id"]) == WINDOW  # nothing before the window
    with harness.runtime.sessions() as session:
        sleep_days = set(session.scalars(select(SleepDaily.date).where(SleepDaily.user_id == athlete["id"])))
    assert sleep_days == WINDOW
    full = readiness(harness, athlete["id"], TODAY)
    assert full is not None and full.score is not None and full.status == "full"
    assert chunk_starts(oura) == ["2026-05-17", "2026-04-17", "2026-03-18"]  # newest first
    listed = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
    assert listed[0]["status"] == "linked" and listed[0]["lastSyncAt"] is not None


@pytest.mark.parametrize(
    ("now", "tz", "last_day"),
    [
        (datetime(2026, 6, 15, 0, 30, tzinfo=UTC), "America/Los_Angeles", date(2026, 6, 14)),
        (datetime(2026, 6, 15, 23, 30, tzinfo=UTC), "America/Los_Angeles", date(2026, 6, 15)),
        (datetime(2026, 6, 15, 0, 30, tzinfo=UTC), "Pacific/Auckland", date(2026, 6, 15)),
        (datetime(2026, 6, 15, 23, 30, tzinfo=UTC), "Pacific/Auckland", date(2026, 6, 16)),
    ],
)
@pytest.mark.backends("sqlite")
def test_window_ends_on_the_athletes_local_date(
    harness: Harness, oura: FakeOura, now: datetime, tz: str, last_day: date, backend: str
) -> None:
    harness.runtime.clock = lambda: now
    athlete = harness.user(tz=tz)
    link_athlete(harness, oura, athlete, oura.add_user())
    window = progress(harness, athlete)
    assert (window["from"], window["to"]) == (
        (last_day - timedelta(days=89)).isoformat(),
        last_day.isoformat(),
    )


def test_short_rate_limit_is_waited_inside_the_chunk(
    harness: Harness, oura: FakeOura, waits: list[float]
) -> None:
    athlete = harness.user()
    link_athlete(harness, oura, athlete, seed_oura(oura))
    oura.rate_limit_next(2, retry_after=1)
    harness.drain()
    assert waits == [1.0, 1.0]  # Oura's Retry-After, twice
    done = progress(harness, athlete)
    assert (done["status"], done["daysDone"], done["error"]) == ("done", 90, None)
    assert hrv_days(harness, athlete["id"]) == WINDOW


def test_long_rate_limit_reschedules_the_chunk_then_finishes(
    harness: Harness, oura: FakeOura, waits: list[float]
) -> None:
    athlete = harness.user()
    link_athlete(harness, oura, athlete, seed_oura(oura))
    harness.runtime.bus.run_once()
    oura.rate_limit_next(1, retry_after=120)  # longer than a chunk may hold its transaction
    harness.drain()
    waiting = progress(harness, athlete)
    assert (waiting["status"], waiting["daysDone"]) == ("running", 30)
    assert "Oura rate limit: 30 of 90 days fetched, resuming at" in waiting["error"]
    assert waits == [] and count(harness, DeadLetter) == 0  # neither slept on nor failed
    sessions = harness.runtime.sessions
    assert backfill.resume_due(sessions) == 0  # not yet
    assert backfill.resume_stalled(sessions, utcnow() + timedelta(hours=1)) == 0  # known to wait here
    assert backfill.resume_due(sessions, utcnow() + timedelta(seconds=121)) == 1
    harness.drain()
    done = progress(harness, athlete)
    assert (done["status"], done["daysDone"], done["records"], done["error"]) == ("done", 90, 90, None)
    assert hrv_days(harness, athlete["id"]) == WINDOW


@pytest.mark.backends("sqlite")
def test_whoop_rate_limit_reset_is_waited_out_even_after_a_restart(
    vendor_app: VendorApp, waits: list[float], backend: str
) -> None:
    """WHOOP says when its window resets (X-RateLimit-Reset, no Retry-After). The process that
    deferred the chunk stops here; the sweep of the next one finds the time the wait ends in
    the database and asks for the chunk then, not before (it would be refused) nor a stall
    period later."""
    fake = FakeWhoop()
    with vendor_harness(vendor_app, fake) as harness:
        athlete = harness.user(tz="America/New_York")
        whoop_user = fake.add_user()
        for back in range(92):
            day = TODAY - timedelta(days=back)  # woke at 07:00 in UTC-5
            fake.add_night(
                whoop_user,
                start=f"{day - timedelta(days=1)}T04:00:00.000Z",
                end=f"{day}T12:00:00.000Z",
                timezone_offset="-05:00",
            )
        link_athlete(harness, fake, athlete, whoop_user)
        harness.runtime.bus.run_once()
        fake.rate_limit_next(1, retry_after=90)
        harness.drain()
        assert "WHOOP rate limit" in progress(harness, athlete)["error"]
        sessions = harness.runtime.sessions
        key = backfill._database_key(harness.runtime.engine)
        backfill.DEFERRED.pop_due(key, NOW + timedelta(days=999))  # the process is gone
        with sessions() as session:
            due = session.scalars(select(VendorConnection.backfill_resume_at)).one()
        assert due is not None and due > utcnow()
        assert backfill.resume_stalled(sessions) == 0  # taken over, not asked for yet
        assert backfill.DEFERRED.waiting(key) != set()
        assert backfill.resume_due(sessions, due - timedelta(seconds=1)) == 0
        assert backfill.resume_due(sessions, due) == 1  # on time
        assert backfill.resume_stalled(sessions, due + backfill.STALLED_AFTER) == 0  # asked once
        harness.drain()
        done = progress(harness, athlete)
        assert (done["status"], done["daysDone"], done["error"]) == ("done", 90, None)
        assert done["records"] >= 180  # a sleep and a recovery a night (chunk edges overlap)
        # WHOOP is asked a day beyond each end (nights cross midnight): the edge may add one.
        assert WINDOW <= hrv_days(harness, athlete["id"]) <= WINDOW | {FIRST - timedelta(days=1)}


def test_a_wait_that_ended_while_no_process_ran_resumes_at_the_first_sweep(
    harness: Harness, oura: FakeOura, waits: list[float]
) -> None:
    athlete = harness.user()
    link_athlete(harness, oura, athlete, seed_oura(oura))
    harness.runtime.bus.run_once()
    oura.rate_limit_next(1, retry_after=3600)  # an hour: far longer than the stall period
    harness.drain()
    sessions = harness.runtime.sessions
    key = backfill._database_key(harness.runtime.engine)
    backfill.DEFERRED.pop_due(key, NOW + timedelta(days=999))  # every process stopped
    with sessions() as session:
        due = session.scalars(select(VendorConnection.backfill_resume_at)).one()
    assert due is not None
    # A stall period later the vendor would still refuse: nothing is asked for (it is adopted).
    assert backfill.resume_stalled(sessions, utcnow() + backfill.STALLED_AFTER * 2) == 0
    backfill.DEFERRED.pop_due(key, NOW + timedelta(days=999))  # and that process stopped too
    assert backfill.resume_stalled(sessions, due + timedelta(seconds=1)) == 1  # the next one starts
    harness.drain()
    done = progress(harness, athlete)
    assert (done["status"], done["daysDone"], done["error"]) == ("done", 90, None)
    with sessions() as session:
        assert session.scalars(select(VendorConnection.backfill_resume_at)).one() is None


def test_vendor_outage_fails_readably_dead_letters_and_replay_resumes(
    harness: Harness, oura: FakeOura, waits: list[float]
) -> None:
    athlete = harness.user()
    link_athlete(harness, oura, athlete, seed_oura(oura))
    harness.runtime.bus.run_once()
    oura.outage_next(5, 503)  # exactly the retry budget of one request
    harness.drain()
    failed = progress(harness, athlete)
    assert (failed["status"], failed["daysDone"], failed["records"]) == ("failed", 30, 30)
    assert failed["error"] == (
        "Oura failed after 30 of 90 days: GET fake-oura/v2/usercollection/sleep: HTTP 503 after 5 attempts"
    )
    assert failed["finishedAt"] is not None
    assert len(waits) == 4  # the client's own retries came first
    with harness.runtime.sessions() as session:
        (dead,) = session.scalars(select(DeadLetter)).all()
    assert (dead.subject, dead.consumer, dead.user_id) == (BACKFILL_REQUESTED, "backfill", athlete["id"])
    assert "503" in dead.reason and dead.payload["daysDone"] == 30
    assert hrv_days(harness, athlete["id"]) == {TODAY - timedelta(days=back) for back in range(30)}

    with session_scope(harness.runtime.sessions) as session:  # `perfhub dlq replay`
        replay_dead_letters(session, dead.id)
    harness.drain()
    done = progress(harness, athlete)
    assert (done["status"], done["daysDone"], done["records"], done["error"]) == ("done", 90, 90, None)
    assert hrv_days(harness, athlete["id"]) == WINDOW


def test_unlink_stops_the_backfill(harness: Harness, oura: FakeOura) -> None:
    athlete = harness.user()
    link_athlete(harness, oura, athlete, seed_oura(oura))
    harness.runtime.bus.run_once()
    assert harness.client.delete("/api/v1/connections/oura", headers=athlete["headers"]).status_code == 204
    stopped = progress(harness, athlete)
    assert (stopped["status"], stopped["daysDone"]) == ("failed", 30)
    assert stopped["error"] == "stopped: the connection was unlinked"
    fetched = len(oura.calls("/usercollection/sleep"))
    harness.drain()  # the next chunk's request is still queued: it finds the link gone
    assert len(oura.calls("/usercollection/sleep")) == fetched
    assert progress(harness, athlete) == stopped
    assert hrv_days(harness, athlete["id"]) == {TODAY - timedelta(days=back) for back in range(30)}


def test_relinking_starts_a_new_backfill(harness: Harness, oura: FakeOura) -> None:
    athlete = harness.user()
    oura_user = seed_oura(oura)
    link_athlete(harness, oura, athlete, oura_user)
    harness.runtime.bus.run_once()
    assert progress(harness, athlete)["daysDone"] == 30
    link_athlete(harness, oura, athlete, oura_user)
    again = progress(harness, athlete)
    assert (again["status"], again["daysDone"], again["records"], again["startedAt"]) == (
        "queued",
        0,
        0,
        None,
    )
    harness.drain()
    done = progress(harness, athlete)
    assert (done["status"], done["daysDone"], done["records"]) == ("done", 90, 90)
    # The first link's next chunk was left alone: one chunk of the old run, three of the new.
    assert chunk_starts(oura) == ["2026-05-17", "2026-05-17", "2026-04-17", "2026-03-18"]


def _canonical(harness: Harness, user_id: int) -> dict[str, list[tuple[Any, ...]]]:
    with harness.runtime.sessions() as session:
        return {
            "hrv": [
                tuple(row)
                for row in session.execute(
                    select(HrvDaily.date, HrvDaily.rmssd_ms, HrvDaily.resting_hr)
                    .where(HrvDaily.user_id == user_id)
                    .order_by(HrvDaily.date)
                )
            ],
            "sleep": [
                tuple(row)
                for row in session.execute(
                    select(SleepDaily.date, SleepDaily.duration_min)
                    .where(SleepDaily.user_id == user_id)
                    .order_by(SleepDaily.date)
                )
            ],
            "readiness": [
                tuple(row)
                for row in session.execute(
                    select(
                        ReadinessSnapshotRow.date,
                        ReadinessSnapshotRow.score,
                        ReadinessSnapshotRow.inputs_hash,
                    )
                    .where(ReadinessSnapshotRow.user_id == user_id)
                    .order_by(ReadinessSnapshotRow.date)
                )
            ],
        }


def test_duplicate_deliveries_and_landing_twice_change_nothing(harness: Harness, oura: FakeOura) -> None:
    athlete = harness.user()
    oura_user = seed_oura(oura)
    link_athlete(harness, oura, athlete, oura_user)
    with harness.runtime.sessions() as session:
        initial = Event.from_row(
            session.scalars(select(OutboxRow).where(OutboxRow.subject == BACKFILL_REQUESTED)).one()
        )
    # One batch carrying the same request twice (a redelivery): one chunk.
    with session_scope(harness.runtime.sessions) as session:
        handle_backfill_requested(session, [initial, initial])
    assert progress(harness, athlete)["daysDone"] == 30
    harness.drain()  # the bus delivers the initial request too: it is behind the backfill now
    done = progress(harness, athlete)
    assert (done["daysDone"], done["records"]) == (90, 90)
    landed, before = count(harness, RawEvent), _canonical(harness, athlete["id"])
    assert landed == 90 and len(before["hrv"]) == 90 and before["readiness"]

    # Every request of the run delivered once more (say, replayed by hand): all no-ops.
    with session_scope(harness.runtime.sessions) as session:
        requests = session.scalars(select(OutboxRow).where(OutboxRow.subject == BACKFILL_REQUESTED)).all()
        assert len(requests) == 3
        for row in requests:
            publish(session, BACKFILL_REQUESTED, dict(row.payload), user_id=row.user_id)
    harness.drain()
    assert count(harness, RawEvent) == landed and _canonical(harness, athlete["id"]) == before

    # Landing the same records again (a relink fetches them all again) leaves the same rows.
    link_athlete(harness, oura, athlete, oura_user)
    harness.drain()
    assert count(harness, RawEvent) == 2 * landed
    assert _canonical(harness, athlete["id"]) == before


def test_a_crash_mid_chunk_resumes_from_the_last_committed_chunk(
    harness: Harness, oura: FakeOura, monkeypatch: pytest.MonkeyPatch
) -> None:
    athlete = harness.user()
    link_athlete(harness, oura, athlete, seed_oura(oura))
    harness.runtime.bus.run_once()
    real_land = backfill.land_record
    calls = {"n": 0}

    def crash_on_the_tenth(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("worker killed")
        real_land(*args, **kwargs)

    monkeypatch.setattr(backfill, "land_record", crash_on_the_tenth)
    harness.runtime.bus.base_backoff_s = 0.0
    harness.runtime.bus.run_once()
    assert progress(harness, athlete)["daysDone"] == 30  # the half chunk was rolled back whole
    assert count(harness, RawEvent) == 30
    monkeypatch.setattr(backfill, "land_record", real_land)
    harness.drain()  # the bus retries the same request
    done = progress(harness, athlete)
    assert (done["status"], done["daysDone"], done["records"]) == ("done", 90, 90)
    assert count(harness, RawEvent) == 90 and hrv_days(harness, athlete["id"]) == WINDOW
    with harness.runtime.sessions() as session:
        connection = session.scalars(select(VendorConnection)).one()
        assert connection.backfill_error is None
