"""WHOOP v2 against the fake built from docs/vendors.md: what only WHOOP does (state length, the offline
scope, page limits, recovery via cycle, no webhooks once revoked, trace-id dedupe) and mapping with day
attribution from the sleep's own offset. OAuth, 429s and outages, paging, webhook signatures and
revocation are the vendor contract's (test_vendor_contract.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.fakes import in_process
from tests.fakes.whoop import (
    FakeWhoop,
    offset_instant,
    recovery_record,
    sleep_record,
    webhook_payload,
)
from tests.wearables.conftest import rows

from perfhub.readings.mapping import Deletion, Mapped, Refused
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.wearables.vendors import oauth, whoop
from perfhub.wearables.vendors.errors import (
    InvalidGrant,
    MappingError,
    RecordNotFound,
    SignatureError,
)
from perfhub.wearables.vendors.http import RetryPolicy
from perfhub.wearables.vendors.oauth import TokenSet
from perfhub.wearables.vendors.records import WebhookEvent

USER = 456
REDIRECT = "https://hub.example/api/v1/connections/whoop/callback"
HOOK = "https://hub.example/api/v1/webhooks/whoop"


@pytest.fixture
def fake() -> FakeWhoop:
    fake = FakeWhoop()
    fake.add_user(USER)
    fake.oauth.authorize_as = str(USER)
    return fake


@pytest.fixture
def http(fake: FakeWhoop) -> Iterator[httpx.Client]:
    with in_process(fake) as client:
        yield client


def link(http: httpx.Client, fake: FakeWhoop, scopes: tuple[str, ...] | None = None) -> TokenSet:
    cfg = fake.config()
    if scopes is not None:
        cfg = whoop.ADAPTER.config(
            fake.client_id,
            fake.client_secret,
            authorize_url=cfg.authorize_url,
            token_url=cfg.token_url,
            api_base=cfg.api_base,
            scopes=scopes,
        )
    location = http.get(oauth.authorization_url(cfg, "state-0123456789", REDIRECT)).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    return oauth.exchange_code(http, cfg, code, REDIRECT, now=fake.clock())


def client(http: httpx.Client, fake: FakeWhoop) -> whoop.WhoopClient:
    policy = RetryPolicy(max_attempts=4, sleep=lambda _s: None, random=lambda: 0.5)
    return whoop.WhoopClient(http, fake.oauth.issue_for_test(str(USER)), fake.config(), policy=policy)


# --------------------------------------------------------------------------- OAuth


def test_short_state_is_refused_by_whoop_and_by_us(http: httpx.Client, fake: FakeWhoop) -> None:
    response = http.get(
        "http://fake-whoop/oauth/oauth2/auth",
        params={
            "response_type": "code",
            "client_id": fake.client_id,
            "redirect_uri": REDIRECT,
            "state": "abc",
        },
    )
    assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["invalid_state"]
    with pytest.raises(ValueError):
        oauth.authorization_url(fake.config(), "abc", REDIRECT)


def test_without_offline_there_is_no_refresh_token(http: httpx.Client, fake: FakeWhoop) -> None:
    tokens = link(http, fake, scopes=("read:recovery", "read:sleep"))
    assert tokens.refresh_token is None
    with pytest.raises(InvalidGrant):
        oauth.refresh(http, fake.config(), tokens)


# --------------------------------------------------------------------------- data


def nights(fake: FakeWhoop, count: int, first: datetime) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        start = first + timedelta(days=i)
        out.append(
            fake.add_night(
                USER,
                start=start.isoformat().replace("+00:00", "Z"),
                end=(start + timedelta(hours=8)).isoformat().replace("+00:00", "Z"),
            )
        )
    return out


def test_a_window_ending_at_a_sleeps_start_leaves_that_sleep_out(http: httpx.Client, fake: FakeWhoop) -> None:
    # Paging by 25 with nextToken, each record once: the vendor contract. ``end`` is exclusive.
    first = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    nights(fake, 60, first)
    assert len(client(http, fake).list_sleeps(first, first + timedelta(days=10))) == 10


def test_the_fake_refuses_pages_over_25(http: httpx.Client, fake: FakeWhoop) -> None:
    token = fake.oauth.issue_for_test(str(USER))
    response = http.get(
        "http://fake-whoop/developer/v2/activity/sleep",
        params={"limit": 26},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400


def test_recovery_webhook_resolves_through_the_sleeps_cycle(http: httpx.Client, fake: FakeWhoop) -> None:
    night = fake.add_night(
        USER,
        start=offset_instant("2026-03-08T22:40", "-05:00"),
        end=offset_instant("2026-03-09T06:55", "-05:00"),
    )
    event = whoop.parse_webhook(webhook_payload("recovery.updated", night["sleep"]["id"], USER))
    [(kind, record)] = client(http, fake).fetch_for_event(event)
    assert kind == "recovery" and record["cycle_id"] == night["cycle"]["id"]
    assert [c.path for c in fake.requests] == [
        "/developer/v2/activity/sleep/" + night["sleep"]["id"],
        f"/developer/v2/cycle/{night['cycle']['id']}/recovery",
    ]
    [(signal, payload)] = rows(whoop.map_records(kind, record, "Europe/London"))
    assert signal == "hrv"
    assert payload == {
        "date": "2026-03-09",
        "rMSSD": 61.3,
        "restingHr": 52.0,
        "readinessScore": 64.0,
        "vendorCalibrating": False,
        "vendor": "whoop",
        "capturedAt": "2026-03-09T06:55:00-05:00",
    }
    HrvIn.model_validate({**payload, "userId": 1})


def test_sleep_webhook_and_missing_records(http: httpx.Client, fake: FakeWhoop) -> None:
    night = fake.add_night(USER, start="2026-03-09T03:00:00.000Z", end="2026-03-09T11:00:00.000Z")
    event = whoop.parse_webhook(webhook_payload("sleep.updated", night["sleep"]["id"], USER))
    assert client(http, fake).fetch_for_event(event) == [("sleep", night["sleep"])]
    with pytest.raises(RecordNotFound):  # a workout WHOOP no longer has: its delete notice follows
        client(http, fake).fetch_for_event(whoop.parse_webhook(webhook_payload("workout.updated", "w", USER)))
    fake.delete_sleep(night["sleep"]["id"])
    with pytest.raises(RecordNotFound):
        client(http, fake).fetch_for_event(event)


def test_list_recoveries_attaches_each_sleep(http: httpx.Client, fake: FakeWhoop) -> None:
    first = datetime(2026, 1, 1, 4, 0, tzinfo=UTC)
    made = nights(fake, 30, first)
    recoveries = client(http, fake).list_recoveries(first, first + timedelta(days=30))
    assert len(recoveries) == 30
    by_cycle = {n["cycle"]["id"]: n["sleep"] for n in made}
    assert all(r["sleep"] == by_cycle[r["cycle_id"]] for r in recoveries)
    dates = {rows(whoop.map_records("recovery", r, "UTC"))[0][1]["date"] for r in recoveries}
    assert len(dates) == 30  # one HRV day per night, none lost to the join


def test_revoke_stops_webhooks(http: httpx.Client, fake: FakeWhoop) -> None:
    # That it ends data access and refresh, with a DELETE of /v2/user/access: the vendor contract.
    client(http, fake).revoke()
    assert fake.deliver(HOOK, webhook_payload("sleep.updated", "s", USER)) is None


# --------------------------------------------------------------------------- webhooks
# (signatures: the vendor contract)


def test_dedupe_on_trace_id_and_event_parsing() -> None:
    payload = webhook_payload("recovery.updated", "sleep-uuid", USER, "trace-7")
    event = whoop.parse_webhook(payload)
    assert event == WebhookEvent(
        vendor="whoop",
        kind="recovery",
        object_id="sleep-uuid",
        event="updated",
        vendor_user_id="456",
        dedupe_key="whoop:trace-7",
    )
    assert whoop.dedupe_key({**payload}) == whoop.dedupe_key(payload)
    assert whoop.dedupe_key({**payload, "trace_id": "trace-8"}) != event.dedupe_key
    broken: Any
    for broken in (
        {**payload, "type": "recovery.exploded"},
        {**payload, "type": "heart.updated"},
        {k: v for k, v in payload.items() if k != "trace_id"},
        {k: v for k, v in payload.items() if k != "user_id"},
        {**payload, "user_id": True},
    ):
        with pytest.raises(MappingError):
            whoop.parse_webhook(broken)


def test_deletions_for_events() -> None:
    def event(kind: str) -> WebhookEvent:
        return whoop.parse_webhook(webhook_payload(kind, "sleep-uuid", USER))

    assert whoop.deletions_for_event(event("sleep.deleted")) == [
        Deletion("sleep", "whoop", object_id="sleep-uuid")
    ]
    assert whoop.deletions_for_event(event("recovery.deleted")) == [
        Deletion("hrv", "whoop", object_id="sleep-uuid")
    ]
    assert whoop.deletions_for_event(event("workout.deleted")) == [
        Deletion("workout", "whoop", object_id="sleep-uuid")
    ]
    assert whoop.deletions_for_event(event("sleep.updated")) == []


def test_delivered_duplicates_share_a_key(fake: FakeWhoop) -> None:
    seen: list[str] = []

    async def hook(request: Request) -> Response:
        raw = await request.body()
        try:
            whoop.verify_webhook(request.headers, raw, fake.client_secret, now=fake.clock())
        except SignatureError:
            return Response(status_code=401)
        seen.append(whoop.parse_webhook(json.loads(raw)).dedupe_key)
        return Response(status_code=204)

    with in_process(Starlette(routes=[Route("/api/v1/webhooks/whoop", hook, methods=["POST"])])) as hub:
        fake.callback_http = hub
        payload = webhook_payload("sleep.updated", "s-1", USER, "trace-dup")
        for _ in range(2):
            response = fake.deliver(HOOK, payload)
            assert response is not None and response.status_code == 204
    assert seen == ["whoop:trace-dup", "whoop:trace-dup"]


# --------------------------------------------------------------------------- mapping


def a_sleep(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "user_id": USER,
        "cycle_id": 1,
        "start": "2026-03-09T16:00:00.000Z",
        "end": "2026-03-10T01:30:00.000Z",
        "timezone_offset": "-07:00",
    }
    fields.update(overrides)
    return sleep_record(**fields)


def test_negative_offset_sleep_crossing_midnight_utc_belongs_to_the_local_wake_date() -> None:
    # A night-shift worker in Phoenix sleeps 09:00–18:30 local; in UTC the sleep ends on the 10th.
    [(kind, payload)] = rows(whoop.map_records("sleep", a_sleep(), "Europe/Berlin"))
    assert kind == "sleep"
    assert payload == {
        "date": "2026-03-09",
        "durationMin": 435.0,  # light 240 + slow wave 90 + REM 105 minutes
        "efficiencyPct": 91.5,
        "wakeCount": 7,
        "inBedMin": 465.0,
        "vendor": "whoop",
        "capturedAt": "2026-03-09T18:30:00-07:00",
    }
    assert "latencyMin" not in payload  # WHOOP has none; never a guessed 0
    SleepIn.model_validate({**payload, "userId": 1})


def test_positive_offset_wakes_a_day_after_the_utc_date() -> None:
    sleep = a_sleep(
        start="2026-03-09T12:00:00.000Z", end="2026-03-09T20:45:00.000Z", timezone_offset="+10:00"
    )
    assert rows(whoop.map_records("sleep", sleep, "UTC"))[0][1]["date"] == "2026-03-10"


def test_missing_offset_falls_back_to_the_athletes_zone() -> None:
    sleep = a_sleep(end="2026-07-01T03:30:00.000Z", start="2026-06-30T19:00:00.000Z", timezone_offset=None)
    payload = rows(whoop.map_records("sleep", sleep, "America/Los_Angeles"))[0][1]
    assert payload["date"] == "2026-06-30" and payload["capturedAt"] == "2026-06-30T20:30:00-07:00"


def test_naps_and_unscored_records_make_no_rows() -> None:
    assert whoop.map_records("sleep", a_sleep(nap=True), "UTC") == []
    assert whoop.map_records("sleep", a_sleep(score_state="PENDING_SCORE"), "UTC") == []
    for state in ("PENDING_SCORE", "UNSCORABLE"):
        recovery = recovery_record(
            user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00.000Z", score_state=state
        )
        assert whoop.map_records("recovery", {**recovery, "sleep": a_sleep()}, "UTC") == []
    scored = recovery_record(user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00.000Z")
    assert whoop.map_records("recovery", {**scored, "sleep": a_sleep(nap=True)}, "UTC") == []
    assert whoop.map_records("cycle", {"id": 1}, "UTC") == []


def test_recovery_without_its_sleep_uses_the_athletes_zone() -> None:
    recovery = recovery_record(user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00.000Z")
    payload = rows(whoop.map_records("recovery", recovery, "America/Phoenix"))[0][1]
    assert payload["date"] == "2026-03-09"


@pytest.mark.parametrize(
    ("kind", "change", "reason"),
    [
        ("sleep", {"score_state": "SCORED", "score": None}, "SCORED without a score"),
        ("sleep", {"score_state": "MAYBE"}, "unknown score_state"),
        ("sleep", {"nap": "no"}, "nap must be"),
        ("sleep", {"timezone_offset": "EST"}, "not ±HH:MM"),
        ("sleep", {"end": "yesterday"}, "not an ISO 8601"),
        ("recovery", {"score": None}, "SCORED without a score"),
    ],
)
def test_what_dates_a_record_refuses_it_whole(kind: str, change: dict[str, Any], reason: str) -> None:
    if kind == "sleep":
        record = {**a_sleep(), **change}
    else:
        base_record = recovery_record(
            user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00Z"
        )
        record = {**base_record, **change, "sleep": a_sleep()}
    with pytest.raises(MappingError, match=reason):
        whoop.map_records(kind, record, "UTC")
    with pytest.raises(MappingError):
        whoop.map_records("cycles", {}, "UTC")


def refusal(mapped: list[Mapped]) -> Refused:
    [refused] = [item for item in mapped if isinstance(item, Refused)]
    return refused


@pytest.mark.parametrize(
    ("kind", "score", "reason"),
    [
        ("sleep", {"stage_summary": {"total_light_sleep_time_milli": 1}}, "missing"),
        ("sleep", {"stage_summary": None}, "expected an object"),
        ("recovery", {"recovery_score": 50}, "without hrv_rmssd_milli"),
        ("recovery", {"hrv_rmssd_milli": "60"}, "must be a number"),
    ],
)
def test_a_payload_that_cannot_be_built_is_refused_with_its_reason(
    kind: str, score: dict[str, Any], reason: str
) -> None:
    if kind == "sleep":
        record = {**a_sleep(), "score": score}
    else:
        base_record = recovery_record(
            user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00Z"
        )
        record = {**base_record, "score": score, "sleep": a_sleep()}
    mapped = whoop.map_records(kind, record, "UTC")
    refused = refusal(mapped)
    assert len(mapped) == 1 and reason in refused.reason
    assert refused.signal == ("sleep" if kind == "sleep" else "hrv") and refused.date == "2026-03-09"


def impossible_night() -> dict[str, Any]:
    # Stages that add up to nothing next to 420 minutes in bed at 91 % efficiency.
    return a_sleep(light_ms=0, slow_wave_ms=0, rem_ms=0, awake_ms=0, in_bed_ms=25_200_000, efficiency=91.0)


def test_a_night_with_no_staged_sleep_but_hours_in_bed_is_refused() -> None:
    sleep = impossible_night()
    mapped = whoop.map_records("sleep", sleep, "UTC")
    refused = refusal(mapped)
    assert len(mapped) == 1 and refused.signal == "sleep"
    assert refused.reason.endswith(
        "light + slow wave + REM add up to 0 min, but 420 min in bed at 91 % efficiency "
        "means about 382 min asleep"
    )
    assert refused.part["stage_summary"]["total_in_bed_time_milli"] == 25_200_000
    assert refused.part["sleep_efficiency_percentage"] == 91.0


def test_the_recovery_of_an_impossible_night_still_gives_hrv_and_resting_hr() -> None:
    recovery = recovery_record(user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00Z")
    [(signal, payload)] = rows(
        whoop.map_records("recovery", {**recovery, "sleep": impossible_night()}, "UTC")
    )
    assert signal == "hrv" and payload["rMSSD"] == 61.3 and payload["restingHr"] == 52.0
    assert payload["date"] == "2026-03-09"


@pytest.mark.parametrize(
    ("stages", "awake_min", "no_data_min", "efficiency"),
    [
        ((240, 90, 105), 30, 0, 91.5),  # a plain night
        ((200, 60, 80), 80, 0, 81.0),  # restless
        ((180, 70, 70), 0, 100, 92.0),  # 100 minutes WHOOP could not stage explain the gap
    ],
)
def test_plausible_nights_pass_the_cross_check(
    stages: tuple[int, int, int], awake_min: int, no_data_min: int, efficiency: float
) -> None:
    light, deep, rem = (minutes * 60_000 for minutes in stages)
    sleep = a_sleep(
        light_ms=light,
        slow_wave_ms=deep,
        rem_ms=rem,
        awake_ms=awake_min * 60_000,
        no_data_ms=no_data_min * 60_000,
        efficiency=efficiency,
    )
    [(signal, payload)] = rows(whoop.map_records("sleep", sleep, "UTC"))
    assert signal == "sleep" and payload["durationMin"] == sum(stages)


def test_a_calibrating_recovery_is_marked() -> None:
    recovery = recovery_record(
        user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00Z", user_calibrating=True
    )
    [(_, payload)] = rows(whoop.map_records("recovery", {**recovery, "sleep": a_sleep()}, "UTC"))
    assert payload["vendorCalibrating"] is True
    assert HrvIn.model_validate({**payload, "userId": 1}).vendor_calibrating is True


def test_a_bad_recovery_score_or_flag_is_dropped_and_the_hrv_kept() -> None:
    recovery = recovery_record(user_id=USER, cycle_id=1, sleep_id="s", created_at="2026-03-10T01:33:00Z")
    recovery["score"] = {**recovery["score"], "recovery_score": 180, "user_calibrating": "yes"}
    mapped = whoop.map_records("recovery", {**recovery, "sleep": a_sleep()}, "UTC")
    [(_, payload)] = [item for item in mapped if isinstance(item, tuple)]
    assert payload["rMSSD"] == 61.3 and "readinessScore" not in payload and "vendorCalibrating" not in payload
    reasons = [item.reason for item in mapped if isinstance(item, Refused)]
    assert len(reasons) == 2
    assert "recovery_score 180.0 is above 100" in reasons[0]
    assert "user_calibrating must be true or false" in reasons[1]


@settings(max_examples=100, deadline=None)
@given(
    end=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m - m % 15),
)
def test_the_day_is_always_the_local_date_of_the_wake_time(end: datetime, offset_minutes: int) -> None:
    sign = "-" if offset_minutes < 0 else "+"
    offset = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    end_text = end.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    start_text = (end - timedelta(hours=8)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sleep = a_sleep(start=start_text, end=end_text, timezone_offset=offset)
    expected = (end + timedelta(minutes=offset_minutes)).date().isoformat()
    assert rows(whoop.map_records("sleep", sleep, "UTC"))[0][1]["date"] == expected


def test_the_ingest_contract_takes_the_calibrating_flag_as_a_boolean_only() -> None:
    body = {"userId": 1, "date": "2026-03-09", "rMSSD": 61.3, "vendor": "whoop", "vendorCalibrating": True}
    assert HrvIn.model_validate(body).vendor_calibrating is True
    assert HrvIn.model_validate({**body, "vendorCalibrating": None}).vendor_calibrating is None
    with pytest.raises(ValueError, match="vendorCalibrating"):
        HrvIn.model_validate({**body, "vendorCalibrating": "yes"})
