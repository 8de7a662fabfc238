"""Google Health API v4 against the fake: OAuth with PKCE, dataPoints paging with a date filter,
limits, and the daily-heart-rate-variability mapping decisions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.fakes import in_process
from tests.fakes.google import HEALTH_SCOPE, FakeGoogle, daily_hrv_point

from perfhub.ingest.schemas import HrvIn
from perfhub.vendors import base, google
from perfhub.vendors.base import (
    InvalidGrant,
    Mapped,
    MappingError,
    RateLimited,
    RetryPolicy,
    SignatureError,
    TokenSet,
    Unauthorized,
    VendorError,
)

USER = "google-user-1"
REDIRECT = "https://hub.example/api/v1/connections/google/callback"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def rows(mapped: list[Mapped]) -> list[tuple[str, dict[str, Any]]]:
    """The (signal, payload) pairs, asserting no Deletion marker slipped in."""
    out = [item for item in mapped if isinstance(item, tuple)]
    assert len(out) == len(mapped)
    return out


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
    url = base.authorization_url(fake.config(), "state-0123456789", REDIRECT, challenge)
    return parse_qs(urlsplit(http.get(url).headers["location"]).query)["code"][0]


def link(http: httpx.Client, fake: FakeGoogle) -> TokenSet:
    verifier, challenge = base.new_pkce_pair()
    code = authorize(http, fake, challenge)
    return base.exchange_code(http, fake.config(), code, REDIRECT, verifier, now=fake.clock())


def client(http: httpx.Client, fake: FakeGoogle, sleeps: Sleeps | None = None) -> google.GoogleHealthClient:
    policy = RetryPolicy(max_attempts=4, sleep=sleeps or Sleeps(), random=lambda: 0.5)
    return google.GoogleHealthClient(http, fake.oauth.issue_for_test(USER), fake.config(), policy=policy)


# --------------------------------------------------------------------------- config and OAuth


def test_config_defaults_are_the_real_urls() -> None:
    cfg = google.config_from("id", "secret")
    assert cfg.authorize_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert cfg.token_url == "https://oauth2.googleapis.com/token"
    assert cfg.api_base == "https://health.googleapis.com"
    assert cfg.uses_pkce and HEALTH_SCOPE in cfg.scopes
    query = parse_qs(urlsplit(base.authorization_url(cfg, "state-0123456789", REDIRECT)).query)
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]


def test_pkce_code_exchange(http: httpx.Client, fake: FakeGoogle) -> None:
    tokens = link(http, fake)
    assert tokens.refresh_token and tokens.expires_at == fake.clock() + 3_599

    _, challenge = base.new_pkce_pair()
    code = authorize(http, fake, challenge)
    with pytest.raises(InvalidGrant):
        base.exchange_code(http, fake.config(), code, REDIRECT, "a-different-verifier-" + "x" * 30)
    code = authorize(http, fake, challenge)
    with pytest.raises(InvalidGrant):
        base.exchange_code(http, fake.config(), code, REDIRECT)  # verifier missing


def test_refresh_without_rotation_keeps_the_refresh_token(http: httpx.Client, fake: FakeGoogle) -> None:
    tokens = link(http, fake)
    fresh = base.refresh(http, fake.config(), tokens)
    assert fresh.refresh_token == tokens.refresh_token and fresh.access_token != tokens.access_token
    assert base.refresh(http, fake.config(), fresh).refresh_token == tokens.refresh_token
    fake.oauth.revoke_refresh_tokens()  # the athlete removed access in their Google account
    with pytest.raises(InvalidGrant):
        base.refresh(http, fake.config(), fresh)


def test_refresh_with_rotation_keeps_the_new_one() -> None:
    fake = FakeGoogle(rotate_refresh_tokens=True)
    fake.oauth.authorize_as = USER
    with in_process(fake) as http:
        tokens = link(http, fake)
        fresh = base.refresh(http, fake.config(), tokens)
        assert fresh.refresh_token != tokens.refresh_token
        with pytest.raises(InvalidGrant):
            base.refresh(http, fake.config(), tokens)


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


def test_429_without_retry_after_backs_off_with_jitter(http: httpx.Client, fake: FakeGoogle) -> None:
    sleeps = Sleeps()
    fake.rate_limit_next(2)
    fake.put(USER, google.DAILY_HRV, daily_hrv_point(USER, "2026-02-01"))
    assert len(client(http, fake, sleeps).daily_hrv(date(2026, 2, 1), date(2026, 2, 1))) == 1
    assert sleeps.calls == [0.25, 0.5]
    fake.rate_limit_next(4)
    with pytest.raises(RateLimited) as caught:
        client(http, fake).daily_hrv(date(2026, 2, 1), date(2026, 2, 1))
    assert caught.value.retry_after is None


def test_auth_and_scope_errors(http: httpx.Client, fake: FakeGoogle) -> None:
    with pytest.raises(Unauthorized):
        google.GoogleHealthClient(http, "not-a-token", fake.config()).daily_hrv(
            date(2026, 2, 1), date(2026, 2, 1)
        )
    narrow = fake.oauth.issue_for_test(USER, scope="openid")
    with pytest.raises(VendorError) as caught:
        google.GoogleHealthClient(http, narrow, fake.config()).daily_hrv(date(2026, 2, 1), date(2026, 2, 1))
    assert caught.value.status_code == 403 and "PERMISSION_DENIED" in str(caught.value)


def test_notifications_are_refused_polling_is_the_path() -> None:
    with pytest.raises(SignatureError):
        google.verify_webhook({"X-HEALTHAPI-SIGNATURE": "sig"}, b'{"type":"verification"}', "s", now=0.0)
    with pytest.raises(MappingError):
        google.parse_webhook({"type": "verification"})


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
        {"date": "2026-02-03", "averageHeartRateVariabilityMilliseconds": "forty"},
    ],
)
def test_malformed_points_raise_mapping_error(values: dict[str, Any]) -> None:
    with pytest.raises(MappingError):
        google.map_records(google.DAILY_HRV, {"dailyHeartRateVariability": values}, "UTC")


def test_unsupported_kind_and_bad_zone() -> None:
    with pytest.raises(MappingError):
        google.map_records("sleep", {}, "UTC")
    with pytest.raises(MappingError):
        google.map_records(google.DAILY_HRV, daily_hrv_point(USER, "2026-02-03"), "Mars/Olympus_Mons")
