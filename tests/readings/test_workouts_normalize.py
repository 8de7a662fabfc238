"""Landed vendor workouts → the canonical ``workout`` rows: one per vendor record, a newer capture
replaces an older one (never the other way round), a broken record is dead-lettered once with its
reason while the batch lands the rest, and ``data.normalized`` names the workout signal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import Harness
from tests.fakes.whoop import workout_record

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.core.outbox import DeadLetter, OutboxRow
from perfhub.readings.models import Workout
from perfhub.readings.service import land

pytestmark = pytest.mark.backends("sqlite", "postgres")

DAY = datetime.now(UTC).date() - timedelta(days=2)


def instant(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def land_whoop(harness: Harness, athlete: int, record: dict[str, Any]) -> None:
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, athlete)
        assert user is not None
        land(
            session,
            source="poll",
            kind="whoop.workout",
            vendor="whoop",
            user_id=athlete,
            payload={"record": record, "tz": user.tz, "sourceId": record.get("id")},
        )


def workouts(harness: Harness) -> list[tuple[Any, ...]]:
    with harness.runtime.sessions() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(Workout.vendor_id, Workout.date, Workout.strain, Workout.duration_min).order_by(
                    Workout.vendor_id
                )
            )
        ]


def test_workouts_upsert_by_vendor_record_newest_capture_winning(harness: Harness) -> None:
    athlete = harness.user(tz="America/New_York")["id"]
    base = {"user_id": 1, "start": instant(DAY, 12), "end": instant(DAY, 12, 45), "id": "w-1"}
    pending = workout_record(**base, score_state="PENDING_SCORE", updated_at=instant(DAY, 12, 46))
    scored = workout_record(**base, strain=14.7, updated_at=instant(DAY, 13, 10))
    land_whoop(harness, athlete, pending)
    harness.drain()
    assert workouts(harness) == [("w-1", DAY, None, 45.0)]
    land_whoop(harness, athlete, scored)
    land_whoop(harness, athlete, pending)  # an older version arriving late changes nothing
    harness.drain()
    assert workouts(harness) == [("w-1", DAY, 14.7, 45.0)]
    with harness.runtime.sessions() as session:
        announced = [
            row.payload
            for row in session.scalars(select(OutboxRow).where(OutboxRow.subject == "data.normalized"))
        ]
    assert announced and all(
        p["signals"] == ["workout"] and p["dates"] == [DAY.isoformat()] for p in announced
    )


def test_a_broken_workout_is_dead_lettered_once_and_the_rest_still_land(harness: Harness) -> None:
    athlete = harness.user(tz="America/New_York")["id"]
    broken = workout_record(
        user_id=1, id="w-bad", start=instant(DAY, 12), end=instant(DAY, 11), updated_at=instant(DAY, 13)
    )
    unknown = workout_record(user_id=1, id="w-odd", start=instant(DAY, 14), end=instant(DAY, 15))
    unknown["score_state"] = "RESCORING"
    good = workout_record(user_id=1, id="w-ok", start=instant(DAY, 16), end=instant(DAY, 17))
    for record in (broken, unknown, good, broken):  # a reconciliation lands the broken one again
        land_whoop(harness, athlete, record)
    harness.drain()
    assert [row[0] for row in workouts(harness)] == ["w-ok"]
    with harness.runtime.sessions() as session:
        letters = session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
    assert len(letters) == 2  # each broken record once, while unreplayed
    reasons = [letter.reason for letter in letters]
    assert "whoop workout w-bad: ends at" in reasons[0] and "not after it starts" in reasons[0]
    assert "unknown score_state 'RESCORING'" in reasons[1]
    assert letters[0].payload["refused"] == {
        "signal": "workout",
        "date": DAY.isoformat(),
        "part": {
            "id": "w-bad",
            "start": broken["start"],
            "end": broken["end"],
            "timezone_offset": "-05:00",
            "sport_name": "running",
            "sport_id": 0,
            "score_state": "SCORED",
            "score": {
                "strain": 12.6,
                "average_heart_rate": 148,
                "kilojoule": 2410.5,
                "distance_meter": 10040.0,
            },
        },
    }
