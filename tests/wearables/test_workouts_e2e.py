"""Workouts end to end: WHOOP and Oura webhooks → workout rows → one completed session per session
(planned where it fits), duplicates and a second vendor counted once, deletions, a link without
``read:workout``, and the load reaching readiness once three weeks are logged."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import Harness
from tests.fakes.oura import FakeOura, workout_doc
from tests.fakes.oura import signed_delivery as oura_signed
from tests.fakes.oura import webhook_payload as oura_payload
from tests.fakes.whoop import FakeWhoop, signed_delivery, webhook_payload
from tests.wearables.apple_export import export_document
from tests.wearables.conftest import VendorApp, link_athlete, running_vendor_app

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.core.outbox import DeadLetter
from perfhub.plans.models import PlannedSession
from perfhub.readings.models import Workout
from perfhub.training.models import CompletedSession
from perfhub.wearables.apple.service import import_apple_health
from perfhub.wearables.backfill import backfill
from perfhub.wearables.models import VendorConnection

pytestmark = pytest.mark.backends("sqlite", "postgres")

# Yesterday in UTC, whatever the hour of the run: every instant below is placed on it.
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


def utc(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def deliver_whoop(harness: Harness, fake: FakeWhoop, payload: dict[str, Any]) -> httpx.Response:
    headers, body = signed_delivery(payload, fake.client_secret, int(time.time() * 1000))
    return harness.client.post("/api/v1/webhooks/whoop", content=body, headers=headers)


def deliver_oura(harness: Harness, fake: FakeOura, payload: dict[str, Any]) -> httpx.Response:
    headers, body = oura_signed(payload, fake.client_secret, int(time.time()))
    return harness.client.post("/api/v1/webhooks/oura", content=body, headers=headers)


def plan(harness: Harness, athlete: int, sport: str, type: str, day: date = YESTERDAY) -> int:
    with session_scope(harness.runtime.sessions) as session:
        row = PlannedSession(
            athlete_id=athlete, date=day, sport=sport, title=sport, type=type, duration_min=50
        )
        session.add(row)
        session.flush()
        return row.id


def completions(harness: Harness) -> list[tuple[Any, ...]]:
    with harness.runtime.sessions() as session:
        rows = session.execute(
            select(
                CompletedSession.planned_session_id,
                Workout.vendor,
                CompletedSession.rpe,
                CompletedSession.rpe_estimated,
                CompletedSession.duration_min,
                CompletedSession.date,
            )
            .outerjoin(Workout, Workout.id == CompletedSession.workout_id)
            .order_by(CompletedSession.id)
        ).all()
    return [tuple(row) for row in rows]


def test_whoop_and_oura_workouts_become_one_completed_session(vendor_app: VendorApp, settings: Any) -> None:
    whoop, oura = FakeWhoop(), FakeOura()
    with vendor_app(whoop) as harness:
        athlete = harness.user(tz="America/New_York")
        whoop_user = whoop.add_user()
        link_athlete(harness, whoop, athlete, whoop_user)
        harness.drain()
        run = plan(harness, athlete["id"], "run", "moderate")
        plan(harness, athlete["id"], "strength", "easy")
        # 07:00–07:52 in New York (UTC-5) yesterday; strain 12.6 → RPE 6.0.
        workout = whoop.add_workout(whoop_user, start=utc(YESTERDAY, 12), end=utc(YESTERDAY, 12, 52))
        payload = webhook_payload("workout.updated", workout["id"], whoop_user)
        assert deliver_whoop(harness, whoop, payload).json()["status"] == "accepted"
        assert deliver_whoop(harness, whoop, payload).json()["status"] == "duplicate"  # same trace_id
        harness.drain()
        # WHOOP delivers the same change again under a new trace: landed twice, counted once.
        assert deliver_whoop(harness, whoop, webhook_payload("workout.updated", workout["id"], whoop_user))
        harness.drain()
        assert completions(harness) == [(run, "whoop", 6.0, True, 52.0, YESTERDAY)]
        with harness.runtime.sessions() as session:
            [row] = session.scalars(select(Workout)).all()
        assert (row.sport, row.strain, row.average_hr, row.distance_m) == ("running", 12.6, 148.0, 10_040.0)
        assert row.utc_offset_min == -300 and row.date == YESTERDAY

    # The same athlete's ring recorded the same run (Oura ranks before WHOOP by default).
    with running_vendor_app(settings, oura) as harness:
        oura_user = oura.add_user()
        link_athlete(harness, oura, athlete, oura_user)
        harness.drain()
        day = YESTERDAY.isoformat()
        ring = oura.put(
            oura_user,
            "workout",
            workout_doc(day, start=f"{day}T07:02:00-05:00", end=f"{day}T07:50:00-05:00", intensity="hard"),
        )
        assert (
            deliver_oura(harness, oura, oura_payload("create", "workout", ring["id"], oura_user)).status_code
            == 202
        )
        harness.drain()
        # One session: Oura's workout stands for it now; WHOOP's strain still gives the effort.
        assert completions(harness) == [(run, "oura", 6.0, True, 48.0, YESTERDAY)]
        oura.remove(oura_user, "workout", ring["id"])
        assert (
            deliver_oura(harness, oura, oura_payload("delete", "workout", ring["id"], oura_user)).status_code
            == 202
        )
        harness.drain()
        assert completions(harness) == [(run, "whoop", 6.0, True, 52.0, YESTERDAY)]

    with running_vendor_app(settings, whoop) as harness:
        whoop.delete_workout(workout["id"])
        assert deliver_whoop(harness, whoop, webhook_payload("workout.deleted", workout["id"], whoop_user))
        harness.drain()
        assert completions(harness) == []  # made only from the deleted workouts: the plan is open again
        assert harness.count(Workout) == 0


def test_a_link_made_before_workouts_were_asked_for_says_to_link_again(
    vendor_app: VendorApp, settings: Any
) -> None:
    fake = FakeWhoop()
    with vendor_app(fake) as harness:
        athlete = harness.user(tz="America/New_York")
        whoop_user = fake.add_user()
        link_athlete(harness, fake, athlete, whoop_user)
        harness.drain()
        for issued in fake.oauth.access_tokens.values():  # as granted to links made before #14
            issued.scope = " ".join(s for s in issued.scope.split() if s != "read:workout")
        fake.add_night(whoop_user, start=utc(YESTERDAY, 3), end=utc(YESTERDAY, 11))
        workout = fake.add_workout(whoop_user, start=utc(YESTERDAY, 12), end=utc(YESTERDAY, 13))
        deliver_whoop(harness, fake, webhook_payload("workout.updated", workout["id"], whoop_user))
        harness.drain()
        with harness.runtime.sessions() as session:
            [letter] = session.scalars(select(DeadLetter)).all()
        assert "link WHOOP again to bring workouts in" in letter.reason and "read:workout" in letter.reason
        # Polling still brings the nights in, without the workouts.
        with session_scope(harness.runtime.sessions) as session:
            connection = session.scalars(select(VendorConnection)).one()
            landed = backfill(session, harness.client.app.state.settings, connection, YESTERDAY, YESTERDAY)
        harness.drain()
        assert landed == 2 and harness.count(Workout) == 0
        rows = harness.client.get(
            "/api/v1/hrv/daily", params={"from": YESTERDAY, "to": YESTERDAY}, headers=athlete["headers"]
        ).json()
        assert [r["vendor"] for r in rows] == ["whoop"]


def test_three_weeks_of_workouts_bring_the_training_load_into_readiness(vendor_app: VendorApp) -> None:
    fake = FakeWhoop()
    with vendor_app(fake) as harness:
        athlete = harness.user(tz="America/New_York")
        whoop_user = fake.add_user()
        link_athlete(harness, fake, athlete, whoop_user)
        harness.drain()
        first = YESTERDAY - timedelta(days=29)
        for offset in range(30):
            day = first + timedelta(days=offset)
            fake.add_night(whoop_user, start=utc(day, 3), end=utc(day, 11))
            if offset >= 5:  # 25 days of training, every day a different effort
                fake.add_workout(
                    whoop_user, start=utc(day, 12), end=utc(day, 12, 40), strain=6.0 + (offset % 4) * 2.5
                )
        with session_scope(harness.runtime.sessions) as session:
            connection = session.scalars(select(VendorConnection)).one()
            backfill(session, harness.client.app.state.settings, connection, first, YESTERDAY)
        harness.drain()
        assert harness.count(CompletedSession) == 25
        days = harness.client.get(
            "/api/v1/readiness", params={"from": first, "to": YESTERDAY}, headers=athlete["headers"]
        ).json()
        with_load = [d["date"] for d in days if "training_load" in {c["name"] for c in d["components"]}]
        # From the 21st day after the first logged one.
        assert with_load and min(with_load) == (first + timedelta(days=5 + 20)).isoformat()
        assert days[-1]["date"] == YESTERDAY.isoformat() and YESTERDAY.isoformat() in with_load


def test_an_apple_export_with_workouts_completes_the_plan(harness: Harness, tmp_path: Any) -> None:
    athlete = harness.user(tz="America/Los_Angeles")
    hard = plan(harness, athlete["id"], "run", "hard")
    stamp = YESTERDAY.isoformat()
    workout = (
        f' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="41.5" durationUnit="min" '
        f'sourceName="Watch" startDate="{stamp} 07:00:00 -0800" endDate="{stamp} 07:44:00 -0800">\n'
        f'  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="{stamp} 07:00:00 -0800" '
        f'endDate="{stamp} 07:44:00 -0800" average="151" unit="count/min"/>\n'
        " </Workout>\n"
        f' <Workout workoutActivityType="HKWorkoutActivityTypeYoga" duration="20" durationUnit="min" '
        f'sourceName="Watch" startDate="{stamp} 19:00:00 -0800" endDate="{stamp} 19:20:00 -0800"/>\n'
    )
    path = tmp_path / "export.xml"
    path.write_text(export_document([workout]), encoding="utf-8")
    for _ in range(2):  # the same export twice: the same rows
        with session_scope(harness.runtime.sessions) as session:
            user = session.get(User, athlete["id"])
            assert user is not None
            summary = import_apple_health(session, user, path)
        harness.drain()
    assert (summary.workouts, summary.message) == (2, None)
    # Apple gives no effort measure: the hard plan's RPE, and 4 for the unplanned yoga.
    assert completions(harness) == [
        (hard, "apple", 7.0, True, 41.5, YESTERDAY),
        (None, "apple", 4.0, True, 20.0, YESTERDAY),
    ]
