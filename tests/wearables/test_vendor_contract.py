"""The contract every registered vendor adapter keeps, run against each vendor's fake (built from
docs/vendors.md, not from our clients): configuration from settings, OAuth code exchange and
refresh (rotating where the vendor rotates), 429 waits then success, paging a range, webhook
deliveries refused when tampered with or replayed late, and revocation.

What differs between vendors (real endpoints and scopes, token lifetimes, rate-limit headers, paging
parameters, signature headers) is each vendor's expectation in its ``Kit``. A vendor registered
without a kit here fails ``test_every_registered_vendor_is_covered``. Vendor-specific behaviour
(mapping quirks, Oura subscriptions and handshake, WHOOP's state length and recovery join, Google's
PKCE and scopes) stays in test_oura.py, test_whoop.py and test_google.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from tests.fakes import FakeVendor, in_process
from tests.fakes import google as fake_google
from tests.fakes import oura as fake_oura
from tests.fakes import whoop as fake_whoop

from perfhub.readings.schemas import VENDORS
from perfhub.settings import DEFAULT_SOURCE_PRIORITY, Settings
from perfhub.wearables.vendors import oauth
from perfhub.wearables.vendors.adapter import VendorAdapter
from perfhub.wearables.vendors.errors import (
    InvalidGrant,
    MappingError,
    RateLimited,
    SignatureError,
    Unauthorized,
    VendorError,
    VendorUnavailable,
)
from perfhub.wearables.vendors.http import ApiClient, RetryPolicy
from perfhub.wearables.vendors.oauth import TokenSet
from perfhub.wearables.vendors.registry import ADAPTERS, DISPLAY_NAMES, LINKABLE_VENDORS, vendor_list

NOW = 1_767_225_600.0
SECRET = "the-client-secret"
FIRST = date(2026, 1, 1)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


Delivery = tuple[dict[str, str], bytes]


@dataclass(frozen=True)
class Kit:
    """How the contract drives one vendor's fake, and what differs from vendor to vendor."""

    make_fake: Callable[[], FakeVendor]
    # The vendor's real endpoints (authorize, token, API base), scopes and PKCE, and what else the
    # authorization URL must ask for.
    endpoints: tuple[str, str, str]
    scopes: frozenset[str]
    pkce: bool
    authorize_params: dict[str, str]
    access_ttl_s: int  # the ``expires_in`` the vendor grants
    rotates: bool
    refresh_form: dict[str, str]  # what a refresh must send besides the grant
    probe: Callable[[ApiClient], object]  # one cheap authenticated read
    probed: object  # what it reads once ``seed(fake, 1)`` ran
    seed: Callable[[FakeVendor, int], None]  # ``n`` nights from FIRST on
    range_kind: str  # the record kind ``fetch_range`` returns one per night
    day_of: Callable[[Any], str]  # the night a record of that kind belongs to
    data_path: str  # where that kind is listed, for counting pages
    nights_for_paging: int
    pages: int  # how many pages the fake serves those nights in
    listings: int  # how many listings those pages make (each starts without a cursor)
    cursor: str  # the query parameter that asks for the next page
    page_params: dict[str, str]  # on every page
    first_page_params: dict[str, str]  # on the first page
    retry_after_sleeps: list[float]  # what two 429s (Retry-After 3 where the vendor sends one) wait
    rate_limited_retry_after: float | None  # what RateLimited says once the retries are spent
    # (signed headers, body) for a delivery sent at Unix ``seconds``; None: no deliveries accepted.
    deliver: Callable[[str, float], Delivery] | None
    signature_headers: tuple[str, str] = ("", "")  # (signature, timestamp)
    # Deliveries signed with the right secret that the vendor's own rules refuse at NOW.
    misdated: Callable[[str], list[Delivery]] = lambda secret: []
    revoke_call: tuple[str, str] | None = None  # (method, path) that revokes at the vendor


def _oura() -> FakeVendor:
    fake = fake_oura.FakeOura(page_size=3)
    fake.oauth.authorize_as = fake.add_user("oura-user-1")
    return fake


def _whoop() -> FakeVendor:
    fake = fake_whoop.FakeWhoop()
    fake.add_user(456)
    fake.oauth.authorize_as = "456"
    return fake


def _google() -> FakeVendor:
    fake = fake_google.FakeGoogle()
    fake.oauth.authorize_as = "google-user-1"
    return fake


def _seed_oura(fake: Any, n: int) -> None:
    for i in range(n):
        fake.put("oura-user-1", "sleep", fake_oura.sleep_doc((FIRST + timedelta(days=i)).isoformat()))


def _seed_whoop(fake: Any, n: int) -> None:
    for i in range(n):
        day = FIRST + timedelta(days=i)
        fake.add_night(456, start=f"{day.isoformat()}T03:00:00.000Z", end=f"{day.isoformat()}T11:00:00.000Z")


def _seed_google(fake: Any, n: int) -> None:
    for i in range(n):
        day = (FIRST + timedelta(days=i)).isoformat()
        fake.put(
            "google-user-1", "daily-heart-rate-variability", fake_google.daily_hrv_point("google-user-1", day)
        )


def _oura_delivery(secret: str, seconds: float) -> tuple[dict[str, str], bytes]:
    payload = fake_oura.webhook_payload("update", "sleep", "sleep-1", "oura-user-1")
    return fake_oura.signed_delivery(payload, secret, int(seconds))


def _whoop_delivery(secret: str, seconds: float) -> tuple[dict[str, str], bytes]:
    payload = fake_whoop.webhook_payload("sleep.updated", "sleep-uuid", 456, "trace-1")
    return fake_whoop.signed_delivery(payload, secret, int(seconds * 1000))


def _whoop_misdated(secret: str) -> list[Delivery]:
    payload = fake_whoop.webhook_payload("sleep.updated", "sleep-uuid", 456, "trace-1")
    return [fake_whoop.signed_delivery(payload, secret, int(NOW))]  # seconds where WHOOP sends ms


KITS: dict[str, Kit] = {
    "oura": Kit(
        _oura,
        endpoints=(
            "https://cloud.ouraring.com/oauth/authorize",
            "https://api.ouraring.com/oauth/token",
            "https://api.ouraring.com",
        ),
        scopes=frozenset(
            {"email", "personal", "daily", "heartrate", "workout", "tag", "session", "spo2Daily"}
        ),
        pkce=True,
        authorize_params={},
        access_ttl_s=86_400,
        rotates=True,
        refresh_form={},
        probe=lambda c: c.vendor_user_id(),  # type: ignore[attr-defined]
        probed="oura-user-1",
        seed=_seed_oura,
        range_kind="sleep",
        day_of=lambda record: str(record["day"]),
        data_path="/v2/usercollection/sleep",
        nights_for_paging=10,
        pages=4,  # three a page, as the fake is set up
        listings=1,
        cursor="next_token",
        page_params={"start_date": "2026-01-01", "end_date": "2026-01-11"},  # one day past the range
        first_page_params={},
        retry_after_sleeps=[3.0, 3.0],
        rate_limited_retry_after=3.0,
        deliver=_oura_delivery,
        signature_headers=("x-oura-signature", "x-oura-timestamp"),
    ),
    "whoop": Kit(
        _whoop,
        endpoints=(
            "https://api.prod.whoop.com/oauth/oauth2/auth",
            "https://api.prod.whoop.com/oauth/oauth2/token",
            "https://api.prod.whoop.com/developer",
        ),
        scopes=frozenset(
            {"read:recovery", "read:cycles", "read:sleep", "read:workout", "read:profile", "offline"}
        ),
        pkce=False,
        authorize_params={},
        access_ttl_s=3_600,
        rotates=True,
        refresh_form={"scope": "offline"},  # else WHOOP hands out no new refresh token
        probe=lambda c: c.vendor_user_id(),  # type: ignore[attr-defined]
        probed="456",
        seed=_seed_whoop,
        range_kind="sleep",
        day_of=lambda record: str(record["end"])[:10],
        data_path="/v2/activity/sleep",
        nights_for_paging=30,
        pages=4,  # 25 a page (the documented maximum); listed for the sleeps, then for the recoveries' join
        listings=2,
        cursor="nextToken",
        page_params={"limit": "25"},
        first_page_params={"start": "2025-12-31T00:00:00.000Z"},  # a day's padding, as WHOOP's instants
        retry_after_sleeps=[3.0, 3.0],  # X-RateLimit-Reset, seconds until the window resets
        rate_limited_retry_after=3.0,
        deliver=_whoop_delivery,
        signature_headers=("X-WHOOP-Signature", "X-WHOOP-Signature-Timestamp"),
        misdated=_whoop_misdated,
        revoke_call=("DELETE", "/v2/user/access"),
    ),
    "google": Kit(
        _google,
        endpoints=(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            "https://health.googleapis.com",
        ),
        scopes=frozenset(
            {fake_google.HEALTH_SCOPE, "https://www.googleapis.com/auth/googlehealth.sleep.readonly"}
        ),
        pkce=True,
        authorize_params={"access_type": "offline", "prompt": "consent"},
        access_ttl_s=3_599,
        rotates=False,
        refresh_form={},
        probe=lambda c: len(c.daily_hrv(FIRST, FIRST)),  # type: ignore[attr-defined]
        probed=1,
        seed=_seed_google,
        range_kind="daily",
        day_of=lambda record: str(record["date"]),
        data_path="/daily-heart-rate-variability/dataPoints",
        nights_for_paging=3,
        pages=1,
        listings=1,
        cursor="pageToken",
        page_params={
            "filter": 'daily_heart_rate_variability.date >= "2026-01-01" AND '
            'daily_heart_rate_variability.date < "2026-01-04"'
        },
        first_page_params={},
        retry_after_sleeps=[0.25, 0.5],  # Google sends no Retry-After: full jitter (random 0.5)
        rate_limited_retry_after=None,
        deliver=None,
    ),
}


@pytest.fixture(params=LINKABLE_VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def adapter(vendor: str) -> VendorAdapter:
    return ADAPTERS[vendor]


@pytest.fixture
def kit(vendor: str) -> Kit:
    return KITS[vendor]


@pytest.fixture
def fake(kit: Kit) -> FakeVendor:
    return kit.make_fake()


@pytest.fixture
def http(fake: FakeVendor) -> Iterator[httpx.Client]:
    with in_process(fake) as client:
        yield client


def redirect(vendor: str) -> str:
    return f"https://hub.example/api/v1/connections/{vendor}/callback"


def authorize(
    adapter: VendorAdapter, http: httpx.Client, config: Any, challenge: str | None
) -> dict[str, str]:
    """The athlete consents at the vendor; the query the vendor redirects back with."""
    url = adapter.authorization_url(config, "state-0123456789", redirect(adapter.name), challenge)
    response = http.get(url)
    assert response.status_code == 302
    query = {key: values[0] for key, values in parse_qs(urlsplit(response.headers["location"]).query).items()}
    assert query["state"] == "state-0123456789"
    return query


def link(adapter: VendorAdapter, http: httpx.Client, fake: Any) -> TokenSet:
    """The link flow as the service runs it: PKCE where the vendor takes it, then the exchange."""
    config = fake.config()
    verifier, challenge = oauth.new_pkce_pair() if config.uses_pkce else (None, None)
    code = authorize(adapter, http, config, challenge)["code"]
    return adapter.exchange(http, config, code, redirect(adapter.name), verifier)


def client(adapter: VendorAdapter, http: httpx.Client, fake: Any, sleeps: Sleeps | None = None) -> ApiClient:
    policy = RetryPolicy(max_attempts=4, sleep=sleeps or Sleeps(), random=lambda: 0.5)
    token = fake.oauth.issue_for_test(str(fake.oauth.authorize_as))
    return adapter.client(http, token, fake.config(), policy=policy)


# --------------------------------------------------------------------------- the registry


def test_every_registered_vendor_is_covered() -> None:
    assert LINKABLE_VENDORS == ("oura", "whoop", "google")
    assert set(KITS) == set(ADAPTERS)
    assert set(LINKABLE_VENDORS) <= set(VENDORS)
    # Apple Health and manual entries are canonical sources no link feeds; they rank last.
    assert (*LINKABLE_VENDORS, "apple", "manual") == DEFAULT_SOURCE_PRIORITY
    assert set(VENDORS) == set(DEFAULT_SOURCE_PRIORITY)
    assert DISPLAY_NAMES == {"oura": "Oura", "whoop": "WHOOP", "google": "Google Health"}
    assert vendor_list() == "oura, whoop or google"


def test_defaults_are_the_vendors_real_endpoints(adapter: VendorAdapter, kit: Kit) -> None:
    config = adapter.config("id", "secret")
    assert (config.authorize_url, config.token_url, config.api_base) == kit.endpoints
    assert set(config.scopes) == kit.scopes
    assert config.uses_pkce is kit.pkce
    assert adapter.config("id", "s", api_base="http://x").api_base == "http://x"
    query = parse_qs(
        urlsplit(adapter.authorization_url(config, "state-0123456789", redirect(adapter.name))).query
    )
    assert {key: query[key] for key in kit.authorize_params} == {
        k: [v] for k, v in kit.authorize_params.items()
    }


def test_configuration_comes_from_settings_over_declared_defaults(adapter: VendorAdapter) -> None:
    name = adapter.name
    assert adapter.config_from_settings(Settings()) is None
    configured = Settings(**{f"{name}_client_id": "id", f"{name}_client_secret": SecretStr("sekrit-42")})
    config = adapter.config_from_settings(configured)
    assert config == adapter.config("id", "sekrit-42")
    assert config is not None and config.name == name and config.configured
    assert config.authorize_url == adapter.defaults.authorize_url
    assert config.scopes == adapter.defaults.scopes
    moved = Settings(
        **{
            f"{name}_client_id": "id",
            f"{name}_client_secret": SecretStr("sekrit-42"),
            f"{name}_api_base": "http://x",
        }
    )
    assert adapter.config_from_settings(moved).api_base == "http://x"  # type: ignore[union-attr]
    assert "sekrit-42" not in repr(config)  # the client secret stays out of logs


# --------------------------------------------------------------------------- OAuth


def test_code_exchange_then_refresh_rotating_where_the_vendor_rotates(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    tokens = link(adapter, http, fake)
    assert tokens.access_token and tokens.refresh_token
    token_call = fake.calls("/token")[-1]
    assert token_call.form["client_id"] == fake.client_id
    assert token_call.form["client_secret"] == fake.client_secret  # credentials in the body
    fresh = adapter.refresh(http, fake.config(), tokens)
    assert fresh.access_token != tokens.access_token
    refresh_form = fake.calls("/token")[-1].form
    assert {key: refresh_form.get(key) for key in kit.refresh_form} == kit.refresh_form
    if kit.rotates:
        assert fresh.refresh_token and fresh.refresh_token != tokens.refresh_token
        with pytest.raises(InvalidGrant):
            adapter.refresh(http, fake.config(), tokens)  # the old refresh token stopped working
    else:
        assert fresh.refresh_token == tokens.refresh_token
    again = adapter.refresh(http, fake.config(), fresh)
    assert again.access_token != fresh.access_token
    if kit.rotates:
        assert len({tokens.refresh_token, fresh.refresh_token, again.refresh_token}) == 3
        with pytest.raises(InvalidGrant):
            adapter.refresh(http, fake.config(), fresh)
    else:
        assert again.refresh_token == tokens.refresh_token
    kit.seed(fake, 1)
    assert kit.probe(adapter.client(http, again.access_token, fake.config())) == kit.probed
    fake.oauth.revoke_refresh_tokens()  # the athlete removed our access in their account
    with pytest.raises(InvalidGrant):
        adapter.refresh(http, fake.config(), again)


def test_an_expired_access_token_is_unauthorized_until_refreshed(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    config = fake.config()
    verifier, challenge = oauth.new_pkce_pair() if config.uses_pkce else (None, None)
    code = authorize(adapter, http, config, challenge)["code"]
    tokens = oauth.exchange_code(http, config, code, redirect(adapter.name), verifier, now=fake.clock())
    assert tokens.expires_at == fake.clock() + kit.access_ttl_s
    kit.seed(fake, 1)
    fake.clock.advance(kit.access_ttl_s + 1)
    assert tokens.expires_soon(fake.clock())
    with pytest.raises(Unauthorized):
        kit.probe(adapter.client(http, tokens.access_token, config))
    fresh = oauth.refresh(http, config, tokens, now=fake.clock())
    assert kit.probe(adapter.client(http, fresh.access_token, config)) == kit.probed


def test_a_code_is_single_use_and_expires(adapter: VendorAdapter, http: httpx.Client, fake: Any) -> None:
    config = fake.config()
    verifier, challenge = oauth.new_pkce_pair() if config.uses_pkce else (None, None)
    code = authorize(adapter, http, config, challenge)["code"]
    adapter.exchange(http, config, code, redirect(adapter.name), verifier)
    with pytest.raises(InvalidGrant):
        adapter.exchange(http, config, code, redirect(adapter.name), verifier)
    code = authorize(adapter, http, config, challenge)["code"]
    fake.clock.advance(fake.oauth.code_ttl_s + 1)
    with pytest.raises(InvalidGrant):
        adapter.exchange(http, config, code, redirect(adapter.name), verifier)


def test_declined_consent_returns_an_error_to_the_redirect(
    adapter: VendorAdapter, http: httpx.Client, fake: Any
) -> None:
    fake.oauth.authorize_as = None
    config = fake.config()
    _, challenge = oauth.new_pkce_pair() if config.uses_pkce else (None, None)
    assert authorize(adapter, http, config, challenge)["error"] == "access_denied"


def test_a_wrong_client_secret_is_a_config_error_not_a_relink(
    adapter: VendorAdapter, http: httpx.Client, fake: Any
) -> None:
    tokens = link(adapter, http, fake)
    wrong = adapter.config(fake.client_id, "wrong", token_url=fake.config().token_url)
    with pytest.raises(VendorError) as caught:
        adapter.refresh(http, wrong, tokens)
    assert not isinstance(caught.value, InvalidGrant) and caught.value.status_code == 401


def test_a_rejected_access_token_is_unauthorized(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    with pytest.raises(Unauthorized):
        kit.probe(adapter.client(http, "not-a-token", fake.config()))


# --------------------------------------------------------------------------- limits and paging


def test_429_waits_then_succeeds_or_gives_up(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    sleeps = Sleeps()
    kit.seed(fake, 1)
    fake.rate_limit_next(2, retry_after=3)
    assert kit.probe(client(adapter, http, fake, sleeps)) == kit.probed
    assert sleeps.calls == kit.retry_after_sleeps
    fake.rate_limit_next(4, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        kit.probe(client(adapter, http, fake))
    assert caught.value.retry_after == kit.rate_limited_retry_after


def test_an_outage_backs_off_then_succeeds_or_gives_up(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    sleeps = Sleeps()
    kit.seed(fake, 1)
    fake.outage_next(3)
    assert kit.probe(client(adapter, http, fake, sleeps)) == kit.probed
    assert sleeps.calls == [0.25, 0.5, 1.0]  # full jitter (random 0.5) from a 0.5 s base
    fake.outage_next(4, status=502)
    with pytest.raises(VendorUnavailable):
        kit.probe(client(adapter, http, fake))


def test_a_range_is_paged_and_each_record_comes_once(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    n = kit.nights_for_paging
    kit.seed(fake, n)
    records = adapter.fetch_range(client(adapter, http, fake), FIRST, FIRST + timedelta(days=n - 1))
    mine = [record for kind, record in records if kind == kit.range_kind]
    assert len(mine) == n
    assert len({json.dumps(r, sort_keys=True) for r in mine}) == n
    assert sorted(kit.day_of(r) for r in mine) == [(FIRST + timedelta(days=i)).isoformat() for i in range(n)]
    pages = fake.calls(kit.data_path)
    assert len(pages) == kit.pages
    assert not {"next_token", "nextToken", "pageToken"} & set(pages[0].params)
    assert sum(kit.cursor not in page.params for page in pages) == kit.listings  # the rest follow cursors
    assert all(page.params.items() >= kit.page_params.items() for page in pages)
    assert pages[0].params.items() >= kit.first_page_params.items()


# --------------------------------------------------------------------------- webhooks


def test_webhooks_are_refused_when_tampered_with_or_replayed(adapter: VendorAdapter, kit: Kit) -> None:
    if kit.deliver is None:
        body = b'{"type":"verification"}'
        for headers in ({"X-Signature": "sig"}, {"X-HEALTHAPI-SIGNATURE": "sig"}):
            with pytest.raises(SignatureError):
                adapter.verify_webhook(headers, body, SECRET, NOW)
        with pytest.raises(MappingError):
            adapter.parse_webhook(json.loads(body))
        return
    headers, body = kit.deliver(SECRET, NOW)
    adapter.verify_webhook(headers, body, SECRET, NOW)
    adapter.verify_webhook({k.swapcase(): v for k, v in headers.items()}, body, SECRET, NOW + 299)
    adapter.verify_webhook({k.upper(): v for k, v in headers.items()}, body, SECRET, NOW + 299)
    adapter.verify_webhook({k.lower(): v for k, v in headers.items()}, body, SECRET, NOW - 299)
    event = adapter.parse_webhook(json.loads(body))
    assert event.vendor == adapter.name and event.dedupe_key.startswith(adapter.name + ":")
    forged_headers, forged_body = kit.deliver("attacker-secret", NOW)
    signature, timestamp = kit.signature_headers
    moved = {**headers, timestamp: str(int(headers[timestamp]) + 1)}  # the signature replayed at a new time
    garbled = {**headers, signature: "%%%not base64%%%"}
    tampered = [
        (forged_headers, forged_body, SECRET, NOW),  # signed with another secret
        (headers, body.replace(b"sleep", b"sleeq"), SECRET, NOW),  # body altered after signing
        (headers, body, SECRET, NOW + 301),  # replayed after the tolerance
        (headers, body, SECRET, NOW - 301),  # from the future
        ({}, body, SECRET, NOW),  # unsigned
        ({k: v for k, v in headers.items() if k != signature}, body, SECRET, NOW),  # no signature
        ({k: v for k, v in headers.items() if k != timestamp}, body, SECRET, NOW),  # no timestamp
        (moved, body, SECRET, NOW),
        (garbled, body, SECRET, NOW),
        (headers, body, "", NOW),  # no secret configured: nothing verifies
        *((bad_headers, bad_body, SECRET, NOW) for bad_headers, bad_body in kit.misdated(SECRET)),
    ]
    for bad_headers, bad_body, secret, now in tampered:
        with pytest.raises(SignatureError):
            adapter.verify_webhook(bad_headers, bad_body, secret, now)


# --------------------------------------------------------------------------- revocation


def test_revoke_ends_access_where_the_vendor_allows_it(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    tokens = link(adapter, http, fake)
    api = adapter.client(http, tokens.access_token, fake.config())
    if not adapter.revocable:
        with pytest.raises(NotImplementedError):
            adapter.revoke(api)
        return
    kit.seed(fake, 1)
    assert kit.probe(api) == kit.probed
    adapter.revoke(api)
    assert kit.revoke_call is not None
    method, path = kit.revoke_call
    assert [call.method for call in fake.calls(path)] == [method]
    with pytest.raises(Unauthorized):
        kit.probe(api)
    with pytest.raises(InvalidGrant):
        adapter.refresh(http, fake.config(), tokens)
