"""Workouts from WHOOP, Oura and Apple Health exports: the pure mappings (real-looking records and
broken ones), the clients against the fakes (paging, a link without ``read:workout``), and the
Apple export's ``Workout`` elements streamed with their heart rate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fakes import in_process
from tests.fakes.oura import FakeOura, sleep_doc, workout_doc
from tests.fakes.whoop import FakeWhoop, workout_record
from tests.wearables.apple_export import (
    RESTING_HR,
    ExportSpec,
    export_document,
    record_xml,
    write_export_xml,
)

from perfhub.readings.mapping import Refused, WorkoutIn
from perfhub.wearables.apple.importer import import_export
from perfhub.wearables.apple.scanner import CHUNK_BYTES
from perfhub.wearables.vendors import oura, whoop
from perfhub.wearables.vendors.errors import MissingScope
from perfhub.wearables.vendors.http import RetryPolicy
from perfhub.wearables.vendors.records import WebhookEvent

USER = 456
POLICY = RetryPolicy(max_attempts=4, sleep=lambda _s: None, random=lambda: 0.5)


def whoop_workout(**fields: Any) -> dict[str, Any]:
    fields.setdefault("start", "2026-03-10T03:30:00.000Z")
    fields.setdefault("end", "2026-03-10T04:20:00.000Z")
    return workout_record(user_id=USER, **fields)


def mapped(kind: str, record: Any, vendor: Any = whoop, tz: str = "UTC") -> dict[str, Any]:
    [(signal, payload)] = vendor.map_records(kind, record, tz)
    assert signal == "workout"
    WorkoutIn.model_validate({**payload, "userId": 1})  # what the normalize stage will accept
    return dict(payload)


def refused(kind: str, record: Any, vendor: Any = whoop) -> Refused:
    [item] = vendor.map_records(kind, record, "UTC")
    assert isinstance(item, Refused) and item.signal == "workout"
    return item


# --------------------------------------------------------------------------- WHOOP


def test_a_scored_whoop_workout_is_dated_by_its_start_in_its_own_offset() -> None:
    record = whoop_workout(id="ecfc6a15-4661-442f-a9a4-f160dd7afae8", updated_at="2026-03-10T05:01:00.000Z")
    assert mapped("workout", record) == {
        "vendorId": "ecfc6a15-4661-442f-a9a4-f160dd7afae8",
        "date": "2026-03-09",  # 22:30 in UTC-5, though the 10th in UTC
        "startAt": "2026-03-09T22:30:00-05:00",
        "endAt": "2026-03-09T23:20:00-05:00",
        "utcOffsetMin": -300,
        "sport": "running",
        "durationMin": 50.0,
        "strain": 12.6,
        "averageHr": 148.0,
        "energyKj": 2410.5,
        "distanceM": 10040.0,
        "vendor": "whoop",
        "capturedAt": "2026-03-10T05:01:00+00:00",
    }


def test_unscored_workouts_keep_their_place_without_strain_and_old_ones_their_sport_id() -> None:
    for state in ("PENDING_SCORE", "UNSCORABLE"):
        payload = mapped("workout", whoop_workout(score_state=state))
        assert "strain" not in payload and payload["durationMin"] == 50.0
    assert mapped("workout", whoop_workout(sport_name=None, sport_id=1))["sport"] == "cycling"
    assert mapped("workout", whoop_workout(sport_name=None, sport_id=71))["sport"] == "whoop sport 71"
    # No offset recorded: the athlete's zone dates it.
    assert mapped("workout", whoop_workout(timezone_offset=None), tz="Asia/Tokyo")["date"] == "2026-03-10"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"score_state": "SCORING"}, "unknown score_state 'SCORING'"),
        ({"end": None}, "end: expected an ISO 8601 timestamp"),
        ({"start": "yesterday"}, "'yesterday' is not an ISO 8601 timestamp"),
        ({"end": "2026-03-10T03:00:00.000Z"}, "not after it starts"),
        ({"end": "2026-03-10T03:30:00.000Z"}, "not after it starts"),
        ({"end": "2026-03-11T05:30:00.000Z"}, "lasts 26.0 h, more than 24 h"),
        ({"strain": 23.5}, "strain 23.5 is above 21"),
        ({"sport_name": None, "sport_id": None}, "neither sport_name nor sport_id"),
        ({"timezone_offset": "EST"}, "is not ±HH:MM"),
    ],
)
def test_broken_whoop_workouts_are_refused_with_their_reason(fields: dict[str, Any], reason: str) -> None:
    record = whoop_workout(**{k: v for k, v in fields.items() if k != "end" or v is not None})
    if fields.get("end", "") is None:
        del record["end"]
    item = refused("workout", record)
    assert reason in item.reason and item.vendor == "whoop" and item.part["id"] == record["id"]


def test_a_scored_workout_without_its_score_is_refused() -> None:
    record = whoop_workout()
    del record["score"]
    assert "SCORED without a score" in refused("workout", record).reason


@pytest.fixture
def whoop_fake() -> FakeWhoop:
    fake = FakeWhoop()
    fake.add_user(USER)
    return fake


@pytest.fixture
def whoop_http(whoop_fake: FakeWhoop) -> Iterator[httpx.Client]:
    with in_process(whoop_fake) as client:
        yield client


def test_whoop_workouts_page_by_25_and_a_webhook_fetches_one(
    whoop_http: httpx.Client, whoop_fake: FakeWhoop
) -> None:
    for day in range(1, 31):
        whoop_fake.add_workout(
            USER, start=f"2026-03-{day:02d}T12:00:00.000Z", end=f"2026-03-{day:02d}T13:00:00.000Z"
        )
    client = whoop.WhoopClient(
        whoop_http, whoop_fake.oauth.issue_for_test(str(USER)), whoop_fake.config(), policy=POLICY
    )
    listed = client.list_workouts(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert len(listed) == 30 and len({w["id"] for w in listed}) == 30
    pages = whoop_fake.calls("/v2/activity/workout")
    assert len(pages) == 2 and all(p.params["limit"] == "25" for p in pages)
    one = listed[0]
    event = whoop.parse_webhook(
        {"user_id": USER, "id": one["id"], "type": "workout.updated", "trace_id": "t"}
    )
    assert client.fetch_for_event(event) == [("workout", one)]
    ranged = whoop.ADAPTER.fetch_range(client, date(2026, 3, 10), date(2026, 3, 10))
    assert sorted(w["start"] for kind, w in ranged if kind == "workout") == [
        f"2026-03-{d:02d}T12:00:00.000Z"
        for d in (9, 10, 11)  # a day either side: an evening in the Americas is the next UTC day
    ]


def test_a_link_without_read_workout_is_told_to_relink_and_keeps_its_nights(
    whoop_http: httpx.Client, whoop_fake: FakeWhoop
) -> None:
    whoop_fake.add_night(USER, start="2026-03-10T03:00:00.000Z", end="2026-03-10T11:00:00.000Z")
    whoop_fake.add_workout(USER, start="2026-03-10T12:00:00.000Z", end="2026-03-10T13:00:00.000Z")
    old_scopes = "read:recovery read:cycles read:sleep read:profile offline"
    token = whoop_fake.oauth.issue_for_test(str(USER), scope=old_scopes)
    client = whoop.WhoopClient(whoop_http, token, whoop_fake.config(), policy=POLICY)
    with pytest.raises(MissingScope, match="link WHOOP again to bring workouts in") as refusal:
        client.list_workouts(datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))
    assert refusal.value.scope == "read:workout" and refusal.value.status_code == 401
    ranged = whoop.ADAPTER.fetch_range(client, date(2026, 3, 10), date(2026, 3, 10))
    assert sorted(kind for kind, _ in ranged) == ["recovery", "sleep"]


# --------------------------------------------------------------------------- Oura


def test_an_oura_workout_keeps_the_rings_offset_and_its_intensity() -> None:
    doc = workout_doc(
        "2026-03-09", id="w-1", start="2026-03-09T18:05:00.000+01:00", end="2026-03-09T19:10:30.000+01:00"
    )
    assert mapped("workout", doc, oura) == {
        "vendorId": "w-1",
        "date": "2026-03-09",
        "startAt": "2026-03-09T18:05:00+01:00",
        "endAt": "2026-03-09T19:10:30+01:00",
        "utcOffsetMin": 60,
        "sport": "running",
        "durationMin": 65.5,
        "intensity": "moderate",
        "energyKj": 2142.2,  # 512 kcal
        "distanceM": 9870.0,
        "vendor": "oura",
        "capturedAt": "2026-03-09T19:10:30+01:00",
    }
    bare = mapped("workout", workout_doc("2026-03-09", intensity=None, calories=None, distance=None), oura)
    assert {"intensity", "energyKj", "distanceM"}.isdisjoint(bare)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"intensity": "extreme"}, "unknown intensity 'extreme'"),
        ({"end_datetime": None}, "end: expected an ISO 8601 timestamp"),
        ({"start_datetime": "2026-03-09T07:00:00"}, "has no UTC offset"),
        ({"end_datetime": "2026-03-09T06:00:00+01:00"}, "not after it starts"),
        ({"activity": ""}, "activity is missing"),
        ({"calories": -5}, "calories must be a finite non-negative number"),
    ],
)
def test_broken_oura_workouts_are_refused_with_their_reason(fields: dict[str, Any], reason: str) -> None:
    item = refused("workout", {**workout_doc("2026-03-09", id="w-2"), **fields}, oura)
    assert reason in item.reason and item.date == "2026-03-09" and item.part["id"] == "w-2"


def test_oura_workouts_come_with_the_nights_and_by_webhook() -> None:
    fake = FakeOura(page_size=3)
    user = fake.add_user()
    for day in range(1, 8):
        fake.put(user, "sleep", sleep_doc(f"2026-03-{day:02d}"))
        fake.put(user, "workout", workout_doc(f"2026-03-{day:02d}", id=f"w-{day}"))
    with in_process(fake) as http:
        client = oura.OuraClient(http, fake.oauth.issue_for_test(user), fake.config(), policy=POLICY)
        ranged = oura.ADAPTER.fetch_range(client, date(2026, 3, 2), date(2026, 3, 6))
        assert sorted(w["id"] for kind, w in ranged if kind == "workout") == [f"w-{d}" for d in range(2, 7)]
        event = WebhookEvent("oura", "workout", "w-3", "updated", user, "k")
        assert client.fetch_for_event(event) == [("workout", fake.records[user]["workout"]["w-3"])]
    deleted = WebhookEvent("oura", "workout", "w-3", "deleted", user, "k")
    assert [(d.kind, d.object_id) for d in oura.deletions_for_event(deleted)] == [("workout", "w-3")]


# --------------------------------------------------------------------------- Apple Health


def workout_xml(
    activity: str = "Running",
    start: str = "2024-01-01 07:00:00 -0800",
    end: str = "2024-01-01 07:46:00 -0800",
    extra: str = 'duration="45.2" durationUnit="min" totalDistance="8.1" totalDistanceUnit="km" '
    'totalEnergyBurned="520" totalEnergyBurnedUnit="kcal"',
    children: str = "",
) -> str:
    head = (
        f' <Workout workoutActivityType="HKWorkoutActivityType{activity}" {extra} '
        f'sourceName="Alex’s Apple Watch" startDate="{start}" endDate="{end}"'
    )
    return f"{head}>\n{children} </Workout>\n" if children else f"{head}/>\n"


HR_STATS = (
    '  <WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" '
    'startDate="2024-01-01 07:00:00 -0800" endDate="2024-01-01 07:46:00 -0800" sum="520" unit="kcal"/>\n'
    '  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="2024-01-01 07:00:00 -0800" '
    'endDate="2024-01-01 07:46:00 -0800" average="148.46" minimum="98" maximum="171" unit="count/min"/>\n'
)


def test_apple_workouts_are_read_with_their_heart_rate_and_broken_ones_explained(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    records = [
        record_xml(
            RESTING_HR, "2024-01-02 00:00:00 -0800", "2024-01-02 23:59:00 -0800", 52, unit="count/min"
        ),
        workout_xml(children='  <MetadataEntry key="HKIndoorWorkout" value="0"/>\n' + HR_STATS),
        workout_xml(
            "TraditionalStrengthTraining", "2024-01-02 23:30:00 -0500", "2024-01-03 00:10:00 -0500", extra=""
        ),
        workout_xml("Cycling", "2024-01-03 18:00:00 +0100", "2024-01-03 17:00:00 +0100"),
        workout_xml("Swimming", "2024-01-04 06:00:00 -0800", "2024-01-05 07:00:00 -0800"),
        workout_xml("Yoga", "", "2024-01-05 08:00:00 -0800"),
        workout_xml("Walking", extra='duration="-3" durationUnit="min"'),
        workout_xml("Rowing", extra='totalDistance="5" totalDistanceUnit="furlong"'),
    ]
    path.write_text(export_document(records), encoding="utf-8")
    read = import_export(path)
    run, strength = read.workouts
    assert run == {
        "vendorId": run["vendorId"],
        "date": "2024-01-01",
        "startAt": "2024-01-01T07:00:00-08:00",
        "endAt": "2024-01-01T07:46:00-08:00",
        "utcOffsetMin": -480,
        "sport": "running",
        "durationMin": 45.2,  # Apple's active time, not the span
        "averageHr": 148.5,
        "energyKj": 2175.7,
        "distanceM": 8100.0,
        "sourceDevice": "Alex’s Apple Watch",
        "vendor": "apple",
        "capturedAt": "2024-01-01T07:46:00-08:00",
    }
    assert (strength["date"], strength["sport"], strength["durationMin"]) == (
        "2024-01-02",  # the local day it started on, in its own offset
        "traditional strength training",
        40.0,
    )
    assert read.summary.workouts == 2 and read.summary.skipped == 5 and read.summary.days == 1
    reasons = "\n".join(read.summary.errors)
    for expected in (
        "(cycling) from Alex’s Apple Watch: ends before it starts",
        "(swimming) from Alex’s Apple Watch: lasts 25.0 h, more than 24 h",
        "(yoga) from Alex’s Apple Watch: unreadable date ''",
        "(walking) from Alex’s Apple Watch: duration '-3' is not a non-negative number",
        "(rowing) from Alex’s Apple Watch: distance unit 'furlong' is not one perfhub reads",
    ):
        assert expected in reasons
    again = import_export(path)
    assert [w["vendorId"] for w in again.workouts] == [w["vendorId"] for w in read.workouts]  # stable ids


def test_a_workouts_heart_rate_is_found_across_a_chunk_boundary(tmp_path: Path) -> None:
    events = "".join(
        f'  <WorkoutEvent type="HKWorkoutEventTypePause" date="2024-01-01 07:{i % 40:02d}:00 -0800"/>\n'
        for i in range(CHUNK_BYTES // 60)
    )
    path = tmp_path / "export.xml"
    path.write_text(
        export_document([workout_xml(children=events + HR_STATS), workout_xml("Cycling", extra="")])
    )
    assert path.stat().st_size > CHUNK_BYTES
    read = import_export(path)
    assert [(w["sport"], w.get("averageHr")) for w in read.workouts] == [
        ("running", 148.5),
        ("cycling", None),
    ]


def test_a_generated_export_gives_every_workout_it_holds(tmp_path: Path) -> None:
    export = write_export_xml(tmp_path / "export.xml", ExportSpec(days=40))
    text = export.path.read_text(encoding="utf-8")
    read = import_export(export.path)
    assert read.summary.workouts == text.count("<Workout ") > 5
    assert all(w["sport"] == "running" and 135 <= w["averageHr"] <= 160 for w in read.workouts)
