"""Google Health API v4 against the fake: what only Google does (PKCE it enforces, refresh-token
rotation it may turn on, scopes per data type, dataPoints paging with a date filter) and the mapping
of daily HRV, daily resting HR and sleep. OAuth, 429s and outages, paging and refused notifications
are the vendor contract's (test_vendor_contract.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.fakes import in_process
from tests.fakes.google import (
    HEALTH_SCOPE,
    FakeGoogle,
    daily_hrv_point,
    daily_resting_hr_point,
    sleep_point,
)
from tests.wearables.conftest import rows

from perfhub.readings.mapping import Refused
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.wearables.backfill import fetch_range
from perfhub.wearables.vendors import google, oauth
from perfhub.wearables.vendors.errors import (
    InvalidGrant,
    MappingError,
    VendorError,
)
from perfhub.wearables.vendors.http import RetryPolicy
from perfhub.wearables.vendors.oauth import TokenSet

USER = "google-user-1"
REDIRECT = "https://hub.example/api/v1/connections/google/callback"


@pytest.fixture
def fake() -> FakeGoogle:
    fake = FakeGoogle()
    fake.oauth.authorize_as = USER
    return fake


@pytest.fixture
def http(fake: FakeGoogle) -> Iterator[httpx.Client]:
    with in_process(fake) as client:
        yield client


def authorize(http: httpx.Client, fake: FakeGoogle, challenge: str | None) -> str:
    url = oauth.authorization_url(fake.config(), "state-0123456789", REDIRECT, challenge)
    return parse_qs(urlsplit(http.get(url).headers["location"]).query)["code"][0]


def link(http: httpx.Client, fake: FakeGoogle) -> TokenSet:
    verifier, challenge = oauth.new_pkce_pair()
    code = authorize(http, fake, challenge)
    return oauth.exchange_code(http, fake.config(), code, REDIRECT, verifier, now=fake.clock())


def client(
    http: httpx.Client, fake: FakeGoogle, sleeps: list[float] | None = None
) -> google.GoogleHealthClient:
    policy = RetryPolicy(
        max_attempts=4, sleep=(sleeps if sleeps is not None else []).append, random=lambda: 0.5
    )
    return google.GoogleHealthClient(http, fake.oauth.issue_for_test(USER), fake.config(), policy=policy)


# --------------------------------------------------------------------------- OAuth


def test_pkce_code_exchange(http: httpx.Client, fake: FakeGoogle) -> None:
    # The exchange with the right verifier (and a refresh token for access_type=offline): the vendor
    # contract. Google refuses a code without its verifier.
    _, challenge = oauth.new_pkce_pair()
    code = authorize(http, fake, challenge)
    with pytest.raises(InvalidGrant):
        oauth.exchange_code(http, fake.config(), code, REDIRECT, "a-different-verifier-" + "x" * 30)
    code = authorize(http, fake, challenge)
    with pytest.raises(InvalidGrant):
        oauth.exchange_code(http, fake.config(), code, REDIRECT)  # verifier missing


def test_refresh_with_rotation_keeps_the_new_one() -> None:
    fake = FakeGoogle(rotate_refresh_tokens=True)
    fake.oauth.authorize_as = USER
    with in_process(fake) as http:
        tokens = link(http, fake)
        fresh = oauth.refresh(http, fake.config(), tokens)
        assert fresh.refresh_token != tokens.refresh_token
        with pytest.raises(InvalidGrant):
            oauth.refresh(http, fake.config(), tokens)


# --------------------------------------------------------------------------- data


def test_paging_with_a_date_filter_collects_each_day_once(http: httpx.Client, fake: FakeGoogle) -> None:
    first = date(2026, 2, 1)
    for i in range(-2, 14):
        fake.put(USER, google.DAILY_HRV, daily_hrv_point(USER, (first + timedelta(days=i)).isoformat()))
    points = list(
        client(http, fake).iter_daily(google.DAILY_HRV, first, first + timedelta(days=9), page_size=4)
    )
    days = [rows(google.map_records(google.DAILY_HRV, p, "UTC"))[0][1]["date"] for p in points]
    assert days == [(first + timedelta(days=i)).isoformat() for i in range(10)]
    calls = fake.calls("/dataPoints")
    assert len(calls) == 3
    assert calls[0].params["filter"] == (
        'daily_heart_rate_variability.date >= "2026-02-01" AND '
        'daily_heart_rate_variability.date < "2026-02-11"'
    )
    assert "pageToken" not in calls[0].params and all("pageToken" in c.params for c in calls[1:])


def test_empty_range(http: httpx.Client, fake: FakeGoogle) -> None:
    assert client(http, fake).daily_hrv(date(2026, 2, 1), date(2026, 2, 3)) == []


def test_auth_and_scope_errors(http: httpx.Client, fake: FakeGoogle) -> None:
    # A rejected token is Unauthorized: the vendor contract. A missing scope is Google's 403.
    narrow = fake.oauth.issue_for_test(USER, scope="openid")
    with pytest.raises(VendorError) as caught:
        google.GoogleHealthClient(http, narrow, fake.config()).daily_hrv(date(2026, 2, 1), date(2026, 2, 1))
    assert caught.value.status_code == 403 and "PERMISSION_DENIED" in str(caught.value)


# --------------------------------------------------------------------------- mapping


def test_average_rmssd_becomes_rmssd_in_the_ingest_shape() -> None:
    point = daily_hrv_point(USER, "2026-02-03", average=38.25, deep_sleep=52.0, non_rem_bpm=58)
    [(kind, payload)] = rows(google.map_records(google.DAILY_HRV, point, "Europe/Madrid"))
    assert kind == "hrv"
    # Non-REM heart rate is not resting HR, and the deep-sleep RMSSD is not the night's RMSSD.
    assert payload == {
        "date": "2026-02-03",
        "rMSSD": 38.25,
        "vendor": "google",
        "capturedAt": "2026-02-03T00:00:00+01:00",
    }
    HrvIn.model_validate({**payload, "userId": 1})
    assert google.source_id(google.DAILY_HRV, point) == point["name"]


def test_deep_sleep_rmssd_alone_makes_no_row() -> None:
    point = daily_hrv_point(USER, "2026-02-03", average=None, deep_sleep=52.0)
    assert google.map_records(google.DAILY_HRV, point, "UTC") == []


def test_flat_records_with_string_dates_are_accepted() -> None:
    flat = {"date": "2026-02-03", "averageHeartRateVariabilityMilliseconds": 40.0}
    assert rows(google.map_records(google.DAILY_HRV, flat, "UTC"))[0][1]["date"] == "2026-02-03"


@pytest.mark.parametrize(
    "values",
    [
        {"date": {"year": 2026, "month": 2}, "averageHeartRateVariabilityMilliseconds": 40.0},
        {"date": {"year": 2026, "month": 2, "day": 30}, "averageHeartRateVariabilityMilliseconds": 40.0},
        {"date": "03/02/2026", "averageHeartRateVariabilityMilliseconds": 40.0},
        {"averageHeartRateVariabilityMilliseconds": 40.0},
    ],
)
def test_points_without_a_readable_date_raise_mapping_error(values: dict[str, Any]) -> None:
    with pytest.raises(MappingError):
        google.map_records(google.DAILY_HRV, {"dailyHeartRateVariability": values}, "UTC")


def test_unsupported_kind_and_bad_zone() -> None:
    with pytest.raises(MappingError):
        google.map_records("steps", {}, "UTC")
    with pytest.raises(MappingError):
        google.map_records(google.DAILY_HRV, daily_hrv_point(USER, "2026-02-03"), "Mars/Olympus_Mons")


# --------------------------------------------------------------------------- resting HR with HRV


def test_resting_hr_and_hrv_of_a_date_make_one_row() -> None:
    hrv = daily_hrv_point(USER, "2026-02-03", average=38.25)
    rhr = daily_resting_hr_point(USER, "2026-02-03", bpm=49)
    assert rhr["dailyRestingHeartRate"]["beatsPerMinute"] == "49"  # int64 travels as a string
    [bundle] = google.daily_bundles([hrv], [rhr])
    assert bundle == {"date": "2026-02-03", "dailyHeartRateVariability": hrv, "dailyRestingHeartRate": rhr}
    [(kind, payload)] = rows(google.map_records(google.DAILY, bundle, "Europe/Madrid"))
    assert kind == "hrv"
    assert payload == {
        "date": "2026-02-03",
        "rMSSD": 38.25,
        "restingHr": 49.0,
        "vendor": "google",
        "capturedAt": "2026-02-03T00:00:00+01:00",
    }
    HrvIn.model_validate({**payload, "userId": 1})
    assert google.source_id(google.DAILY, bundle) == "daily/2026-02-03"


def test_a_day_with_resting_hr_only() -> None:
    [bundle] = google.daily_bundles([], [daily_resting_hr_point(USER, "2026-02-03", bpm=55)])
    [(_, payload)] = rows(google.map_records(google.DAILY, bundle, "UTC"))
    assert payload["restingHr"] == 55.0 and "rMSSD" not in payload


def test_a_malformed_hrv_point_keeps_the_resting_hr() -> None:
    hrv = daily_hrv_point(USER, "2026-02-03", average=None)
    hrv["dailyHeartRateVariability"]["averageHeartRateVariabilityMilliseconds"] = "forty"
    [bundle] = google.daily_bundles([hrv], [daily_resting_hr_point(USER, "2026-02-03", bpm=50)])
    mapped = google.map_records(google.DAILY, bundle, "UTC")
    [(_, payload)] = [item for item in mapped if isinstance(item, tuple)]
    [refused] = [item for item in mapped if isinstance(item, Refused)]
    assert payload["restingHr"] == 50.0 and "rMSSD" not in payload
    assert refused.signal == "hrv" and "must be a number" in refused.reason
    assert refused.part == {"dailyHeartRateVariability": hrv} and refused.date == "2026-02-03"


@pytest.mark.parametrize("bpm", ["fifty", "-4", True])
def test_a_malformed_resting_hr_keeps_the_hrv(bpm: Any) -> None:
    rhr = daily_resting_hr_point(USER, "2026-02-03")
    rhr["dailyRestingHeartRate"]["beatsPerMinute"] = bpm
    [bundle] = google.daily_bundles([daily_hrv_point(USER, "2026-02-03", average=41.0)], [rhr])
    mapped = google.map_records(google.DAILY, bundle, "UTC")
    assert [item[1]["rMSSD"] for item in mapped if isinstance(item, tuple)] == [41.0]
    [refused] = [item for item in mapped if isinstance(item, Refused)]
    assert "beatsPerMinute" in refused.reason


def test_a_point_filed_under_another_date_is_refused() -> None:
    bundle = {
        "date": "2026-02-03",
        "dailyHeartRateVariability": daily_hrv_point(USER, "2026-02-03", average=41.0),
        "dailyRestingHeartRate": daily_resting_hr_point(USER, "2026-02-04"),
    }
    mapped = google.map_records(google.DAILY, bundle, "UTC")
    [refused] = [item for item in mapped if isinstance(item, Refused)]
    assert "dated 2026-02-04 inside the record of 2026-02-03" in refused.reason


def test_bundles_pair_points_by_date_and_pass_unreadable_ones_on() -> None:
    bad = {"name": "x", "dailyRestingHeartRate": {"date": {"year": 2026}, "beatsPerMinute": "50"}}
    bundles = google.daily_bundles(
        [daily_hrv_point(USER, "2026-02-04"), daily_hrv_point(USER, "2026-02-03")],
        [daily_resting_hr_point(USER, "2026-02-03"), bad],
    )
    assert [(b.get("date"), sorted(b)) for b in bundles] == [
        ("2026-02-03", ["dailyHeartRateVariability", "dailyRestingHeartRate", "date"]),
        ("2026-02-04", ["dailyHeartRateVariability", "date"]),
        (None, ["dailyRestingHeartRate"]),
    ]
    with pytest.raises(MappingError, match="not a full calendar date"):
        google.map_records(google.DAILY, bundles[-1], "UTC")


def test_resting_hr_pages_with_its_own_date_filter(http: httpx.Client, fake: FakeGoogle) -> None:
    first = date(2026, 2, 1)
    for i in range(12):
        day = (first + timedelta(days=i)).isoformat()
        fake.put(USER, google.DAILY_RESTING_HR, daily_resting_hr_point(USER, day, bpm=50 + i))
    points = list(
        client(http, fake).iter_daily(google.DAILY_RESTING_HR, first, first + timedelta(days=9), page_size=4)
    )
    assert len(points) == 10
    calls = fake.calls("/daily-resting-heart-rate/dataPoints")
    assert len(calls) == 3 and calls[0].params["filter"] == (
        'daily_resting_heart_rate.date >= "2026-02-01" AND daily_resting_heart_rate.date < "2026-02-11"'
    )


def test_a_hyphenated_filter_field_is_refused_as_google_does(http: httpx.Client, fake: FakeGoogle) -> None:
    token = fake.oauth.issue_for_test(USER)
    response = http.get(
        "http://fake-google/v4/users/me/dataTypes/daily-resting-heart-rate/dataPoints",
        params={"filter": 'daily-resting-heart-rate.date >= "2026-02-01"'},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400 and "INVALID_DATA_POINT_FILTER" in response.text


# --------------------------------------------------------------------------- sleep


def night(start: str = "2026-02-02T23:10", end: str = "2026-02-03T06:40", **fields: Any) -> dict[str, Any]:
    return sleep_point(USER, start=start, end=end, **fields)


def test_a_night_maps_to_a_sleep_row() -> None:
    point = night(minutes_awake=38, minutes_to_fall_asleep=14)
    [(kind, payload)] = rows(google.map_records(google.SLEEP, point, "Europe/Madrid"))
    assert kind == "sleep"
    assert payload == {
        "date": "2026-02-03",
        "durationMin": 412.0,  # 450 minutes in the period, 38 awake
        "efficiencyPct": 91.6,
        "latencyMin": 14.0,
        "inBedMin": 450.0,
        "vendor": "google",
        "capturedAt": "2026-02-03T06:40:00+01:00",
    }
    SleepIn.model_validate({**payload, "userId": 1})
    assert google.source_id(google.SLEEP, point) == point["name"]


def test_the_wake_date_is_local() -> None:
    # Woke at 06:10 in Tokyo, still the 2nd in UTC.
    point = night("2026-02-02T23:00", "2026-02-03T06:10", utc_offset_s=9 * 3600)
    assert rows(google.map_records(google.SLEEP, point, "UTC"))[0][1]["date"] == "2026-02-03"
    del point["sleep"]["interval"]["civilEndTime"]  # without Google's civil date: the offset decides
    payload = rows(google.map_records(google.SLEEP, point, "UTC"))[0][1]
    assert payload["date"] == "2026-02-03" and payload["capturedAt"] == "2026-02-03T06:10:00+09:00"


def test_a_daytime_nap_makes_no_row_but_a_short_overnight_one_does() -> None:
    nap = night("2026-02-03T14:00", "2026-02-03T15:10", nap=True, stages=False)
    assert google.map_records(google.SLEEP, nap, "UTC") == []
    short_night = night("2026-02-03T03:40", "2026-02-03T06:10", nap=True, stages=False, minutes_awake=10)
    [(_, payload)] = rows(google.map_records(google.SLEEP, short_night, "UTC"))
    assert payload["durationMin"] == 140.0


def test_an_unprocessed_session_waits_for_the_next_poll() -> None:
    assert google.map_records(google.SLEEP, night(processed=False), "UTC") == []


def test_an_impossible_summary_is_refused_with_its_reason() -> None:
    point = night(minutes_asleep=480)  # more than the 450 minutes of the period
    [refused] = google.map_records(google.SLEEP, point, "UTC")
    assert isinstance(refused, Refused) and refused.signal == "sleep" and refused.date == "2026-02-03"
    assert "minutesInSleepPeriod 450 is shorter than minutesAsleep 480" in refused.reason
    assert refused.part["summary"]["minutesAsleep"] == "480"
    del point["sleep"]["summary"]
    [refused] = google.map_records(google.SLEEP, point, "UTC")
    assert isinstance(refused, Refused) and "summary" in refused.reason


@pytest.mark.parametrize(
    "change",
    [
        {"endTime": "yesterday"},
        {"endUtcOffset": "one hour"},
        {"endUtcOffset": "90000s"},
    ],
)
def test_a_session_that_cannot_be_dated_raises(change: dict[str, Any]) -> None:
    point = night()
    point["sleep"]["interval"].update(change)
    del point["sleep"]["interval"]["civilEndTime"]
    with pytest.raises(MappingError):
        google.map_records(google.SLEEP, point, "UTC")


def test_offsets_as_plain_seconds_are_accepted() -> None:
    point = night()
    point["sleep"]["interval"]["endUtcOffset"] = 3600
    del point["sleep"]["interval"]["civilEndTime"]
    assert rows(google.map_records(google.SLEEP, point, "UTC"))[0][1]["capturedAt"].endswith("+01:00")


def test_main_sleep_per_wake_date() -> None:
    main = night("2026-02-02T23:10", "2026-02-03T06:40")
    nap = night("2026-02-03T13:00", "2026-02-03T15:00", nap=True, stages=False, minutes_awake=0)
    nap_day = night("2026-02-04T14:00", "2026-02-04T15:30", nap=True, stages=False)
    short_night = night("2026-02-05T03:00", "2026-02-05T05:30", nap=True, stages=False)
    fragment = night("2026-02-05T01:00", "2026-02-05T02:00", nap=True, stages=False)
    broken = night("2026-02-06T23:00", "2026-02-07T07:00")
    broken["sleep"]["interval"]["endTime"] = "later"
    chosen = google.main_sleeps([nap, main, nap_day, fragment, short_night, broken])
    assert chosen == [main, short_night, broken]


def test_sleep_listing_pages_by_25_on_the_civil_end_date(http: httpx.Client, fake: FakeGoogle) -> None:
    first = date(2026, 2, 1)
    for i in range(-1, 31):
        wake = first + timedelta(days=i)
        fake.put(
            USER,
            google.SLEEP,
            night(f"{wake - timedelta(days=1)}T23:00", f"{wake}T06:30"),
        )
    api = client(http, fake)
    points = list(api.iter_sleeps(first, first + timedelta(days=29), page_size=100))
    assert len(points) == 30
    calls = fake.calls("/sleep/dataPoints")
    assert [c.params["pageSize"] for c in calls] == ["25", "25"]
    assert calls[0].params["filter"] == (
        'sleep.interval.civil_end_time >= "2026-02-01" AND sleep.interval.civil_end_time < "2026-03-03"'
    )
    assert [p["sleep"]["interval"]["civilEndTime"]["date"]["day"] for p in points[:2]] == [1, 2]


def test_sleep_needs_the_sleep_scope_and_survives_a_429(http: httpx.Client, fake: FakeGoogle) -> None:
    narrow = fake.oauth.issue_for_test(USER, scope=HEALTH_SCOPE)
    with pytest.raises(VendorError) as caught:
        list(
            google.GoogleHealthClient(http, narrow, fake.config()).iter_sleeps(
                date(2026, 2, 1), date(2026, 2, 2)
            )
        )
    assert caught.value.status_code == 403
    sleeps: list[float] = []
    fake.put(USER, google.SLEEP, night())
    fake.rate_limit_next(1)
    assert len(client(http, fake, sleeps).main_sleeps(date(2026, 2, 3), date(2026, 2, 3))) == 1
    assert sleeps == [0.25]


def test_fetch_range_brings_hrv_resting_hr_and_sleep(http: httpx.Client, fake: FakeGoogle) -> None:
    fake.put(USER, google.DAILY_HRV, daily_hrv_point(USER, "2026-02-03", average=44.0))
    fake.put(USER, google.DAILY_RESTING_HR, daily_resting_hr_point(USER, "2026-02-03", bpm=48))
    fake.put(USER, google.DAILY_RESTING_HR, daily_resting_hr_point(USER, "2026-02-04", bpm=51))
    fake.put(USER, google.SLEEP, night())
    fake.put(USER, google.SLEEP, night("2026-02-03T13:00", "2026-02-03T14:00", nap=True, stages=False))
    records = fetch_range(client(http, fake), "google", date(2026, 2, 3), date(2026, 2, 4))
    assert [kind for kind, _ in records] == [google.DAILY, google.DAILY, google.SLEEP]
    mapped = [item for kind, record in records for item in rows(google.map_records(kind, record, "UTC"))]
    assert [
        (kind, p["date"], p.get("rMSSD"), p.get("restingHr"), p.get("durationMin")) for kind, p in mapped
    ] == [
        ("hrv", "2026-02-03", 44.0, 48.0, None),
        ("hrv", "2026-02-04", None, 51.0, None),
        ("sleep", "2026-02-03", None, None, 415.0),
    ]
