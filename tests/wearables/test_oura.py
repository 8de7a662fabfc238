"""Oura v2 against the fake built from docs/vendors.md: what only Oura does (PKCE it may ignore, the
last day of a date-only range, webhook subscriptions and their handshake, event fetching) and the
mapping. OAuth, 429s and outages, paging and webhook signatures are the vendor contract's
(test_vendor_contract.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.conftest import Harness
from tests.fakes import in_process
from tests.fakes.oura import FakeOura, readiness_doc, sleep_doc, webhook_payload

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.core.outbox import DeadLetter, replay_dead_letters
from perfhub.readings.mapping import Deletion, Refused
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.wearables.vendors import oauth, oura
from perfhub.wearables.vendors.errors import (
    InvalidGrant,
    MappingError,
    RecordNotFound,
    SignatureError,
    Unauthorized,
    VendorError,
)
from perfhub.wearables.vendors.http import RetryPolicy
from perfhub.wearables.vendors.oauth import TokenSet
from perfhub.wearables.vendors.records import WebhookEvent
from perfhub.wearables.webhooks import land_record

pytestmark = pytest.mark.backends("sqlite", "postgres")

REDIRECT = "https://hub.example/api/v1/connections/oura/callback"
CALLBACK = "https://hub.example/api/v1/webhooks/oura"
VERIFY_TOKEN = "verify-me-please"


@pytest.fixture
def fake() -> FakeOura:
    fake = FakeOura(page_size=3)
    fake.oauth.authorize_as = fake.add_user("oura-user-1")
    return fake


@pytest.fixture
def http(fake: FakeOura) -> Iterator[httpx.Client]:
    with in_process(fake) as client:
        yield client


def link(http: httpx.Client, fake: FakeOura, *, pkce: bool = True) -> TokenSet:
    cfg = fake.config()
    verifier, challenge = oauth.new_pkce_pair() if pkce else (None, None)
    response = http.get(oauth.authorization_url(cfg, "state-0123456789", REDIRECT, challenge))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["state-0123456789"]
    return oauth.exchange_code(http, cfg, query["code"][0], REDIRECT, verifier, now=fake.clock())


def client(http: httpx.Client, fake: FakeOura) -> oura.OuraClient:
    token = fake.oauth.issue_for_test("oura-user-1")
    policy = RetryPolicy(max_attempts=4, sleep=lambda _s: None, random=lambda: 0.5)
    return oura.OuraClient(http, token, fake.config(), policy=policy)


# --------------------------------------------------------------------------- OAuth


@pytest.mark.parametrize("supported", [True, False], ids=["pkce-honoured", "pkce-ignored"])
def test_pkce_works_whether_or_not_oura_honours_it(supported: bool) -> None:
    fake = FakeOura(pkce_supported=supported)
    fake.oauth.authorize_as = fake.add_user("oura-user-1")
    cfg = fake.config()
    with in_process(fake) as http:
        assert link(http, fake).access_token
        _, challenge = oauth.new_pkce_pair()
        location = http.get(oauth.authorization_url(cfg, "state-0123456789", REDIRECT, challenge)).headers[
            "location"
        ]
        code = parse_qs(urlsplit(location).query)["code"][0]
        if supported:
            with pytest.raises(InvalidGrant):
                oauth.exchange_code(http, cfg, code, REDIRECT, "not-the-verifier-" + "x" * 30)
        else:
            assert oauth.exchange_code(http, cfg, code, REDIRECT, "not-the-verifier-" + "x" * 30).access_token


# --------------------------------------------------------------------------- data


def test_a_range_lists_its_days_in_order_including_the_last_and_no_more(
    http: httpx.Client, fake: FakeOura
) -> None:
    # Paging, each record once and end_date one day past the range: the vendor contract.
    first = date(2026, 1, 1)
    for i in range(-1, 12):  # one day either side of the range as well
        fake.put("oura-user-1", "sleep", sleep_doc((first + timedelta(days=i)).isoformat()))
    records = client(http, fake).list_records("sleep", first, first + timedelta(days=9))
    assert [r["day"] for r in records] == [(first + timedelta(days=i)).isoformat() for i in range(10)]


def test_the_fake_really_drops_the_last_day_of_a_date_only_range(http: httpx.Client, fake: FakeOura) -> None:
    fake.put("oura-user-1", "sleep", sleep_doc("2026-01-05"))
    token = fake.oauth.issue_for_test("oura-user-1")
    naive = http.get(
        "http://fake-oura/v2/usercollection/sleep",
        params={"start_date": "2026-01-05", "end_date": "2026-01-05"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert naive.json()["data"] == []
    assert len(client(http, fake).list_records("sleep", date(2026, 1, 5), date(2026, 1, 5))) == 1


def test_missing_record_is_record_not_found(http: httpx.Client, fake: FakeOura) -> None:
    with pytest.raises(RecordNotFound):
        client(http, fake).get_record("sleep", "no-such-id")
    with pytest.raises(ValueError):
        client(http, fake).get_record("heartrate", "x")


# --------------------------------------------------------------------------- webhook signatures

# Accepted, tampered with, replayed: the vendor contract. Oura's own: any byte changed breaks it.

SECRET = "oura-client-secret"
NOW = 1_767_225_600.0


@settings(max_examples=50, deadline=None)
@given(body=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0, max_value=10_000))
def test_any_single_byte_change_breaks_the_signature(body: bytes, flip: int) -> None:
    stamp = str(int(NOW))
    headers = {"x-oura-signature": oura.signature(SECRET, stamp, body), "x-oura-timestamp": stamp}
    oura.verify_webhook(headers, body, SECRET, now=NOW)
    i = flip % len(body)
    altered = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
    with pytest.raises(SignatureError):
        oura.verify_webhook(headers, altered, SECRET, now=NOW)


def test_dedupe_key_and_event_parsing() -> None:
    payload = webhook_payload("create", "sleep", "sleep-1", "oura-user-1", "2026-01-02T08:00:00+00:00")
    event = oura.parse_webhook(payload)
    assert event == WebhookEvent(
        vendor="oura",
        kind="sleep",
        object_id="sleep-1",
        event="updated",
        vendor_user_id="oura-user-1",
        dedupe_key=oura.dedupe_key(payload),
        event_time="2026-01-02T08:00:00+00:00",
    )
    assert oura.dedupe_key(dict(payload)) == event.dedupe_key  # a repeated delivery
    assert oura.dedupe_key({**payload, "event_time": "2026-01-02T09:00:00+00:00"}) != event.dedupe_key
    assert oura.dedupe_key({**payload, "event_type": "update"}) != event.dedupe_key
    assert oura.parse_webhook({**payload, "event_type": "delete"}).event == "deleted"
    broken: Any
    for broken in ({**payload, "event_type": "exploded"}, {"data_type": "sleep"}, [], "x"):
        with pytest.raises(MappingError):
            oura.parse_webhook(broken)


def test_deletions_for_a_delete_event() -> None:
    event = oura.parse_webhook(webhook_payload("delete", "sleep", "sleep-9", "u"))
    assert oura.deletions_for_event(event) == [
        Deletion("hrv", "oura", object_id="sleep-9"),
        Deletion("sleep", "oura", object_id="sleep-9"),
    ]
    assert oura.deletions_for_event(oura.parse_webhook(webhook_payload("update", "sleep", "s", "u"))) == []
    assert (
        oura.deletions_for_event(oura.parse_webhook(webhook_payload("delete", "daily_readiness", "r", "u")))
        == []
    )


# --------------------------------------------------------------------------- subscriptions and handshake


def test_answer_challenge() -> None:
    assert oura.answer_challenge({"verification_token": "t0k", "challenge": "c"}, "t0k") == {"challenge": "c"}
    assert oura.answer_challenge({"verification_token": "nope", "challenge": "c"}, "t0k") is None
    assert oura.answer_challenge({"challenge": "c"}, "t0k") is None
    assert oura.answer_challenge({"verification_token": "t0k"}, "t0k") is None
    assert oura.answer_challenge({"verification_token": "", "challenge": "c"}, "") is None
    assert oura.answer_challenge({"verification_token": "x", "challenge": "c"}, None) is None


def receiver(received: list[WebhookEvent], fake: FakeOura, token: str = VERIFY_TOKEN) -> Starlette:
    """What our webhook route does, reduced to the vendor module's calls."""

    async def hook(request: Request) -> Response:
        if request.method == "GET":
            answer = oura.answer_challenge(dict(request.query_params), token)
            return JSONResponse(answer) if answer else Response(status_code=401)
        raw = await request.body()
        try:
            oura.verify_webhook(request.headers, raw, fake.client_secret, now=fake.clock())
        except SignatureError:
            return Response(status_code=401)
        received.append(oura.parse_webhook(json.loads(raw)))
        return Response(status_code=204)

    return Starlette(routes=[Route("/api/v1/webhooks/oura", hook, methods=["GET", "POST"])])


@pytest.fixture
def hub(fake: FakeOura) -> Iterator[list[WebhookEvent]]:
    received: list[WebhookEvent] = []
    with in_process(receiver(received, fake)) as hub_http:
        fake.callback_http = hub_http
        yield received


def test_ensure_subscriptions_creates_renews_and_never_duplicates(
    http: httpx.Client, fake: FakeOura, hub: list[WebhookEvent]
) -> None:
    cfg = fake.config()
    now = datetime.fromtimestamp(fake.clock(), UTC)
    subs = oura.ensure_subscriptions(http, cfg, CALLBACK, VERIFY_TOKEN, now=now)
    assert {(s.event_type, s.data_type) for s in subs} == {
        (e, d) for e in ("create", "update", "delete") for d in ("sleep", "daily_readiness", "workout")
    }
    created = fake.calls("/v2/webhook/subscription")
    assert all(c.headers["x-client-id"] == fake.client_id for c in created)
    assert all(c.headers["x-client-secret"] == fake.client_secret for c in created)
    assert "authorization" not in created[0].headers

    again = oura.ensure_subscriptions(http, cfg, CALLBACK, VERIFY_TOKEN, now=now)
    assert [s.id for s in again] == [s.id for s in subs] and len(fake.subscriptions) == 9
    assert not [c for c in fake.requests if "/renew/" in c.path]

    fake.clock.advance(85 * 86_400)
    later = datetime.fromtimestamp(fake.clock(), UTC)
    renewed = oura.ensure_subscriptions(http, cfg, CALLBACK, VERIFY_TOKEN, now=later)
    assert len([c for c in fake.requests if "/renew/" in c.path]) == 9
    assert all(not s.expires_before(later + timedelta(days=30)) for s in renewed)

    oura.delete_subscription(http, cfg, subs[0].id)
    oura.delete_subscription(http, cfg, subs[0].id)  # already gone: fine
    assert len(oura.list_subscriptions(http, cfg)) == 8


def test_subscription_fails_when_the_handshake_fails(http: httpx.Client, fake: FakeOura) -> None:
    with in_process(receiver([], fake, token="some-other-token")) as hub_http:
        fake.callback_http = hub_http
        with pytest.raises(VendorError) as caught:
            oura.create_subscription(http, fake.config(), CALLBACK, VERIFY_TOKEN, "update", "sleep")
    assert caught.value.status_code == 400 and fake.subscriptions == {}


def test_subscription_calls_need_the_app_credentials(http: httpx.Client, fake: FakeOura) -> None:
    wrong = oura.ADAPTER.config(fake.client_id, "wrong", api_base="http://fake-oura")
    with pytest.raises(Unauthorized):
        oura.list_subscriptions(http, wrong)


def test_signed_deliveries_reach_the_receiver_and_410_cancels(
    http: httpx.Client, fake: FakeOura, hub: list[WebhookEvent]
) -> None:
    oura.create_subscription(http, fake.config(), CALLBACK, VERIFY_TOKEN, "update", "sleep")
    payload = webhook_payload("update", "sleep", "sleep-1", "oura-user-1")
    assert fake.deliver(CALLBACK, payload).status_code == 204
    assert fake.deliver(CALLBACK, payload, timestamp=int(fake.clock()) - 3600).status_code == 401
    assert [e.object_id for e in hub] == ["sleep-1"]

    gone = Starlette(
        routes=[Route("/api/v1/webhooks/oura", lambda r: Response(status_code=410), methods=["POST"])]
    )
    with in_process(gone) as gone_http:
        fake.callback_http = gone_http
        fake.deliver(CALLBACK, payload)
    assert fake.subscriptions == {}


# --------------------------------------------------------------------------- fetching for events


def test_an_update_to_a_short_period_yields_the_nights_main_sleep(http: httpx.Client, fake: FakeOura) -> None:
    main = fake.put("oura-user-1", "sleep", sleep_doc("2026-01-05", total_sleep_duration=25_200))
    short = fake.put(
        "oura-user-1",
        "sleep",
        sleep_doc(
            "2026-01-05",
            type="sleep",
            total_sleep_duration=2_400,
            time_in_bed=3_000,
            bedtime_end="2026-01-05T09:30:00+01:00",
        ),
    )
    fake.put("oura-user-1", "sleep", sleep_doc("2026-01-05", type="late_nap", total_sleep_duration=4_000))
    readiness = fake.put("oura-user-1", "daily_readiness", readiness_doc("2026-01-05"))
    c = client(http, fake)
    for data_type, object_id in (("sleep", short["id"]), ("daily_readiness", readiness["id"])):
        event = oura.parse_webhook(webhook_payload("update", data_type, object_id, "oura-user-1"))
        assert c.fetch_for_event(event) == [("sleep", main)]
    delete = oura.parse_webhook(webhook_payload("delete", "sleep", main["id"], "oura-user-1"))
    assert c.fetch_for_event(delete) == []
    fake.remove("oura-user-1", "sleep", short["id"])
    with pytest.raises(RecordNotFound):
        c.fetch_for_event(oura.parse_webhook(webhook_payload("update", "sleep", short["id"], "oura-user-1")))


def test_a_period_oura_marked_deleted_with_no_other_night_maps_to_deletions(
    http: httpx.Client, fake: FakeOura
) -> None:
    gone = fake.put("oura-user-1", "sleep", sleep_doc("2026-01-06", type="deleted"))
    event = oura.parse_webhook(webhook_payload("update", "sleep", gone["id"], "oura-user-1"))
    [(kind, record)] = client(http, fake).fetch_for_event(event)
    assert oura.map_records(kind, record, "UTC") == [
        Deletion("hrv", "oura", object_id=gone["id"], date="2026-01-06"),
        Deletion("sleep", "oura", object_id=gone["id"], date="2026-01-06"),
    ]


# --------------------------------------------------------------------------- mapping


def payloads(rows: list[Any]) -> dict[str, dict[str, Any]]:
    return {kind: body for kind, body in rows}


def test_a_night_maps_to_hrv_and_sleep_in_the_ingest_shape() -> None:
    doc = sleep_doc("2026-01-05", bedtime_end="2026-01-05T06:48:00-08:00")
    rows = payloads(oura.map_records("sleep", doc, "Europe/Berlin"))
    assert rows["hrv"] == {
        "date": "2026-01-05",
        "rMSSD": 48.0,
        "restingHr": 51.0,
        "readinessScore": 82.0,
        "vendor": "oura",
        "capturedAt": "2026-01-05T06:48:00-08:00",
    }
    assert rows["sleep"] == {
        "date": "2026-01-05",
        "durationMin": 450.0,  # 27 000 s
        "efficiencyPct": 91.0,
        "latencyMin": 9.0,  # 540 s
        "inBedMin": 495.0,  # 29 700 s
        "vendor": "oura",
        "capturedAt": "2026-01-05T06:48:00-08:00",
    }
    # The payloads are exactly what the ingest API accepts once the athlete is named.
    HrvIn.model_validate({**rows["hrv"], "userId": 1})
    SleepIn.model_validate({**rows["sleep"], "userId": 1})


def test_the_wake_day_is_local_not_utc() -> None:
    # Woke in Tokyo at 06:10 on the 5th, which is still the 4th in UTC.
    doc = sleep_doc("2026-01-05", bedtime_end="2026-01-05T06:10:00+09:00")
    assert payloads(oura.map_records("sleep", doc, "UTC"))["hrv"]["date"] == "2026-01-05"
    del doc["day"]
    assert payloads(oura.map_records("sleep", doc, "UTC"))["sleep"]["date"] == "2026-01-05"


@pytest.mark.parametrize("nap_type", ["late_nap", "rest"])
def test_naps_and_rest_never_create_a_day(nap_type: str) -> None:
    # A late nap ending after 18:00 is already filed by Oura under the next day; still no row.
    nap = sleep_doc("2026-01-06", type=nap_type, bedtime_end="2026-01-05T19:30:00+01:00")
    assert oura.map_records("sleep", nap, "UTC") == []
    assert oura.main_sleeps([nap]) == []


def test_missing_signals_are_omitted_not_zero() -> None:
    no_hrv = payloads(oura.map_records("sleep", sleep_doc("2026-01-05", average_hrv=None), "UTC"))
    assert no_hrv["hrv"] == {
        "date": "2026-01-05",
        "restingHr": 51.0,
        "readinessScore": 82.0,
        "vendor": "oura",
        "capturedAt": "2026-01-05T07:05:00+01:00",
    }
    blank = sleep_doc("2026-01-05", average_hrv=0, lowest_heart_rate=None, readiness_score=None, latency=None)
    rows = payloads(oura.map_records("sleep", blank, "UTC"))
    assert "hrv" not in rows and "latencyMin" not in rows["sleep"]


def test_score_only_documents_make_no_rows() -> None:
    assert oura.map_records("daily_readiness", readiness_doc("2026-01-05"), "UTC") == []
    assert oura.map_records("daily_sleep", {"id": "x", "day": "2026-01-05", "score": 80}, "UTC") == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"bedtime_end": None}, "bedtime_end"),
        ({"bedtime_end": "2026-01-05T07:00:00"}, "no UTC offset"),
        ({"day": "2026-02-30"}, "not a real date"),
        ({"type": "hibernation"}, "unknown sleep type"),
        ({"type": None}, "type is missing"),
    ],
)
def test_what_every_part_needs_refuses_the_whole_document(change: dict[str, Any], reason: str) -> None:
    doc = {**sleep_doc("2026-01-05"), **change}
    with pytest.raises(MappingError, match=reason):
        oura.map_records("sleep", doc, "UTC")


def split(mapped: list[Any]) -> tuple[dict[str, dict[str, Any]], list[Refused]]:
    """The payloads by signal, and the refused parts."""
    refused = [item for item in mapped if isinstance(item, Refused)]
    return payloads([item for item in mapped if not isinstance(item, Refused)]), refused


def test_a_sandbox_period_keeps_its_hrv_when_its_sleep_is_inconsistent() -> None:
    # Oura's sandbox serves periods with less time in bed than sleep; the night's rMSSD and resting
    # HR are fine and must not be lost with the impossible durations.
    doc = sleep_doc("2026-01-05", total_sleep_duration=27_900, time_in_bed=26_100, efficiency=88)
    rows, [refused] = split(oura.map_records("sleep", doc, "UTC"))
    assert set(rows) == {"hrv"}
    assert rows["hrv"]["rMSSD"] == 48.0 and rows["hrv"]["restingHr"] == 51.0
    assert refused.signal == "sleep" and refused.date == "2026-01-05"
    assert "time_in_bed 26100.0s is shorter than total_sleep_duration 27900.0s" in refused.reason
    assert refused.part == {
        "id": doc["id"],
        "day": "2026-01-05",
        "total_sleep_duration": 27_900,
        "time_in_bed": 26_100,
        "efficiency": 88,
        "latency": 540,
    }


@pytest.mark.parametrize(
    ("change", "kept", "refused_signal", "reason"),
    [
        ({"average_hrv": "48"}, "sleep", "hrv", "average_hrv must be a number"),
        ({"lowest_heart_rate": -3}, "sleep", "hrv", "lowest_heart_rate"),
        ({"efficiency": 140}, "hrv", "sleep", "efficiency 140.0 is above 100"),
        ({"time_in_bed": 60}, "hrv", "sleep", "shorter than total_sleep_duration"),
        ({"total_sleep_duration": "long"}, "hrv", "sleep", "total_sleep_duration must be a number"),
    ],
)
def test_one_bad_signal_is_refused_and_the_other_kept(
    change: dict[str, Any], kept: str, refused_signal: str, reason: str
) -> None:
    rows, [refused] = split(oura.map_records("sleep", {**sleep_doc("2026-01-05"), **change}, "UTC"))
    assert set(rows) == {kept}
    assert refused.signal == refused_signal and reason in refused.reason
    assert refused.vendor == "oura" and refused.date == "2026-01-05"


@pytest.mark.parametrize("readiness", [{"score": 140}, 80, {"score": "high"}])
def test_a_bad_readiness_score_is_dropped_not_the_night(readiness: Any) -> None:
    doc = {**sleep_doc("2026-01-05"), "readiness": readiness}
    rows, [refused] = split(oura.map_records("sleep", doc, "UTC"))
    assert "readinessScore" not in rows["hrv"] and rows["hrv"]["rMSSD"] == 48.0
    assert "sleep" in rows
    assert refused.signal == "hrv" and "kept without a readiness score" in refused.reason
    assert refused.part == {"id": doc["id"], "readiness": readiness}


def test_unsupported_kinds_and_non_objects() -> None:
    with pytest.raises(MappingError):
        oura.map_records("heartrate", {}, "UTC")
    with pytest.raises(MappingError):
        oura.map_records("sleep", ["not", "a", "doc"], "UTC")


def test_main_sleep_selection() -> None:
    long_sleep = sleep_doc("2026-01-05", total_sleep_duration=20_000)
    longer_short = sleep_doc("2026-01-05", type="sleep", total_sleep_duration=9_000, time_in_bed=9_500)
    a = sleep_doc("2026-01-06", type="sleep", total_sleep_duration=7_000, time_in_bed=7_500)
    b = sleep_doc("2026-01-06", type="sleep", total_sleep_duration=9_000, time_in_bed=9_500)
    deleted = sleep_doc("2026-01-07", type="deleted")
    assert oura.main_sleeps([longer_short, a, long_sleep, b, deleted]) == [long_sleep, b]


def short(day: str, start: str, end: str, seconds: int) -> dict[str, Any]:
    """A ``sleep`` (under three hours) period between two local wall times in +01:00."""
    return sleep_doc(
        day,
        type="sleep",
        bedtime_start=f"{start}+01:00",
        bedtime_end=f"{end}+01:00",
        total_sleep_duration=seconds,
        time_in_bed=seconds + 600,
    )


def test_a_daytime_nap_never_becomes_the_night() -> None:
    # No long_sleep on the 5th (a night out, then 80 minutes on the sofa after lunch): the nap is
    # Oura's short ``sleep`` type but it is not a night, so the day has no sleep and no HRV row.
    nap = short("2026-01-05", "2026-01-05T14:10:00", "2026-01-05T15:40:00", 4_800)
    assert oura.main_sleeps([nap]) == []
    assert oura.map_records("sleep", nap, "UTC") == []
    assert not oura.is_overnight(nap)


def test_a_short_overnight_sleep_is_the_night() -> None:
    # 2.5 hours before an early flight, ending in the morning: the only sleep of the night.
    night = short("2026-01-05", "2026-01-05T03:50:00", "2026-01-05T06:20:00", 8_400)
    nap = short("2026-01-05", "2026-01-05T13:00:00", "2026-01-05T15:30:00", 8_900)  # longer, daytime
    assert oura.is_overnight(night)
    assert oura.main_sleeps([nap, night]) == [night]
    rows, refused = split(oura.map_records("sleep", night, "UTC"))
    assert refused == [] and rows["sleep"]["durationMin"] == 140.0 and rows["hrv"]["date"] == "2026-01-05"


def test_a_long_sleep_still_wins_over_a_short_overnight_one() -> None:
    long_sleep = sleep_doc("2026-01-05", total_sleep_duration=12_000, time_in_bed=13_000)
    night = short("2026-01-05", "2026-01-05T00:30:00", "2026-01-05T02:30:00", 6_600)
    assert oura.main_sleeps([night, long_sleep]) == [long_sleep]


@pytest.mark.parametrize(
    ("start", "end", "overnight"),
    [
        ("2026-01-04T21:00:00", "2026-01-04T22:30:00", True),  # into the night window
        ("2026-01-05T05:30:00", "2026-01-05T07:30:00", True),  # ends the night
        ("2026-01-05T06:00:00", "2026-01-05T08:30:00", False),  # starts as the night ends
        ("2026-01-05T11:00:00", "2026-01-05T13:00:00", False),
        ("2026-01-05T19:00:00", "2026-01-05T21:59:00", False),
    ],
)
def test_the_night_window(start: str, end: str, overnight: bool) -> None:
    assert oura.is_overnight(short("2026-01-05", start, end, 3_600)) is overnight


def test_the_night_window_is_the_rings_local_clock() -> None:
    # 13:00–15:00 in Tokyo is 04:00–06:00 UTC: still an afternoon nap for the athlete.
    nap = sleep_doc(
        "2026-01-05",
        type="sleep",
        bedtime_start="2026-01-05T13:00:00+09:00",
        bedtime_end="2026-01-05T15:00:00+09:00",
        total_sleep_duration=6_600,
        time_in_bed=7_200,
    )
    assert not oura.is_overnight(nap)


def test_an_update_on_a_nap_only_day_fetches_nothing(http: httpx.Client, fake: FakeOura) -> None:
    nap = fake.put(
        "oura-user-1", "sleep", short("2026-01-05", "2026-01-05T14:10:00", "2026-01-05T15:40:00", 4_800)
    )
    event = oura.parse_webhook(webhook_payload("update", "sleep", nap["id"], "oura-user-1"))
    assert client(http, fake).fetch_for_event(event) == []


# --------------------------------------------------------------------------- through the pipeline


def test_sandbox_nights_give_hrv_rows_and_dead_letter_their_sleep_once(harness: Harness) -> None:
    # What a developer sees against Oura's sandbox: every night has less time in bed than sleep.
    athlete = harness.user(tz="Europe/Berlin")
    days = [(datetime.now(UTC).date() - timedelta(days=back)).isoformat() for back in (2, 1)]
    docs = [
        sleep_doc(day, average_hrv=50.0 + i, total_sleep_duration=27_900, time_in_bed=26_100)
        for i, day in enumerate(days)
    ]
    for _ in range(2):  # the reconciliation poll lands the same records again a few hours later
        with session_scope(harness.runtime.sessions) as session:
            user = session.get(User, athlete["id"])
            assert user is not None
            for doc in docs:
                land_record(session, "oura", "sleep", doc, user, source="poll")
        harness.drain()
    params = {"from": days[0], "to": days[-1]}
    hrv = harness.client.get("/api/v1/hrv/daily", params=params, headers=athlete["headers"]).json()
    assert [(r["date"], r["rMSSD"], r["restingHr"]) for r in hrv] == [
        (days[0], 50.0, 51),
        (days[1], 51.0, 51),
    ]
    assert harness.client.get("/api/v1/sleep/summary", params=params, headers=athlete["headers"]).json() == []
    with harness.runtime.sessions() as session:
        letters = session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
        assert len(letters) == 2  # one per refused night, not one per poll
        for letter, doc in zip(letters, docs, strict=True):
            assert letter.user_id == athlete["id"] and letter.consumer == "normalize"
            assert letter.reason.startswith(
                f"refused part of oura.sleep: oura sleep {doc['id']}: time_in_bed"
            )
            refused = letter.payload["refused"]
            assert refused["signal"] == "sleep" and refused["date"] == doc["day"]
            assert refused["part"]["time_in_bed"] == 26_100
            assert letter.payload["rawEventId"]
    # Replaying one re-normalises its landed record: the HRV row stays, the refusal is filed anew.
    with session_scope(harness.runtime.sessions) as session:
        replay_dead_letters(session, letters[0].id)
    harness.drain()
    with harness.runtime.sessions() as session:
        assert len(session.scalars(select(DeadLetter).where(DeadLetter.replayed_at.is_(None))).all()) == 2
    assert len(harness.client.get("/api/v1/hrv/daily", params=params, headers=athlete["headers"]).json()) == 2
