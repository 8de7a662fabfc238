"""The contract every registered vendor adapter keeps, run against each vendor's fake (built from
docs/vendors.md, not from our clients): configuration from settings, OAuth code exchange and
refresh (rotating where the vendor rotates), 429 waits then success, paging a range, webhook
deliveries refused when tampered with or replayed late, and revocation.

A vendor registered without a kit here fails ``test_every_registered_vendor_is_covered``.
Vendor-specific behaviour (mapping quirks, Oura subscriptions, WHOOP's recovery join) stays in
test_oura.py, test_whoop.py and test_google.py.
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
from perfhub.wearables.vendors.errors import InvalidGrant, SignatureError, Unauthorized
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


@dataclass(frozen=True)
class Kit:
    """How the contract drives one vendor's fake."""

    make_fake: Callable[[], FakeVendor]
    rotates: bool
    probe: Callable[[ApiClient], object]  # one cheap authenticated read
    seed: Callable[[FakeVendor, int], None]  # ``n`` nights from FIRST on
    range_kind: str  # the record kind ``fetch_range`` returns one per night
    data_path: str  # where that kind is listed, for counting pages
    nights_for_paging: int
    pages: int  # how many pages the fake serves those nights in
    retry_after_sleeps: list[float]  # what two 429s (Retry-After 3 where the vendor sends one) wait
    # (signed headers, body) for a delivery sent at Unix ``seconds``; None: no deliveries accepted.
    deliver: Callable[[str, float], tuple[dict[str, str], bytes]] | None


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


KITS: dict[str, Kit] = {
    "oura": Kit(
        _oura,
        rotates=True,
        probe=lambda c: c.vendor_user_id(),  # type: ignore[attr-defined]
        seed=_seed_oura,
        range_kind="sleep",
        data_path="/v2/usercollection/sleep",
        nights_for_paging=10,
        pages=4,  # three a page, as the fake is set up
        retry_after_sleeps=[3.0, 3.0],
        deliver=_oura_delivery,
    ),
    "whoop": Kit(
        _whoop,
        rotates=True,
        probe=lambda c: c.vendor_user_id(),  # type: ignore[attr-defined]
        seed=_seed_whoop,
        range_kind="sleep",
        data_path="/v2/activity/sleep",
        nights_for_paging=30,
        pages=4,  # 25 a page (the documented maximum); listed for the sleeps, then for the recoveries' join
        retry_after_sleeps=[3.0, 3.0],  # X-RateLimit-Reset, seconds until the window resets
        deliver=_whoop_delivery,
    ),
    "google": Kit(
        _google,
        rotates=False,
        probe=lambda c: c.daily_hrv(FIRST, FIRST),  # type: ignore[attr-defined]
        seed=_seed_google,
        range_kind="daily",
        data_path="/daily-heart-rate-variability/dataPoints",
        nights_for_paging=3,
        pages=1,
        retry_after_sleeps=[0.25, 0.5],  # Google sends no Retry-After: full jitter (random 0.5)
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


def link(adapter: VendorAdapter, http: httpx.Client, fake: Any) -> TokenSet:
    """The link flow as the service runs it: PKCE where the vendor takes it, then the exchange."""
    config = fake.config()
    verifier, challenge = oauth.new_pkce_pair() if config.uses_pkce else (None, None)
    url = adapter.authorization_url(config, "state-0123456789", redirect(adapter.name), challenge)
    location = http.get(url).headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["state-0123456789"]
    return adapter.exchange(http, config, query["code"][0], redirect(adapter.name), verifier)


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
    if kit.rotates:
        assert fresh.refresh_token and fresh.refresh_token != tokens.refresh_token
        with pytest.raises(InvalidGrant):
            adapter.refresh(http, fake.config(), tokens)  # the old refresh token stopped working
    else:
        assert fresh.refresh_token == tokens.refresh_token
    again = adapter.refresh(http, fake.config(), fresh)
    assert again.access_token != fresh.access_token
    kit.probe(adapter.client(http, again.access_token, fake.config()))


def test_a_code_is_single_use(adapter: VendorAdapter, http: httpx.Client, fake: Any) -> None:
    config = fake.config()
    verifier, challenge = oauth.new_pkce_pair() if config.uses_pkce else (None, None)
    url = adapter.authorization_url(config, "state-0123456789", redirect(adapter.name), challenge)
    code = parse_qs(urlsplit(http.get(url).headers["location"]).query)["code"][0]
    adapter.exchange(http, config, code, redirect(adapter.name), verifier)
    with pytest.raises(InvalidGrant):
        adapter.exchange(http, config, code, redirect(adapter.name), verifier)


def test_a_rejected_access_token_is_unauthorized(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    with pytest.raises(Unauthorized):
        kit.probe(adapter.client(http, "not-a-token", fake.config()))


# --------------------------------------------------------------------------- limits and paging


def test_429_waits_then_succeeds(adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any) -> None:
    sleeps = Sleeps()
    fake.rate_limit_next(2, retry_after=3)
    kit.probe(client(adapter, http, fake, sleeps))
    assert sleeps.calls == kit.retry_after_sleeps


def test_a_range_is_paged_and_each_record_comes_once(
    adapter: VendorAdapter, kit: Kit, http: httpx.Client, fake: Any
) -> None:
    n = kit.nights_for_paging
    kit.seed(fake, n)
    records = adapter.fetch_range(client(adapter, http, fake), FIRST, FIRST + timedelta(days=n - 1))
    mine = [record for kind, record in records if kind == kit.range_kind]
    assert len(mine) == n
    assert len({json.dumps(r, sort_keys=True) for r in mine}) == n
    pages = fake.calls(kit.data_path)
    assert len(pages) == kit.pages
    assert not {"next_token", "nextToken", "pageToken"} & set(pages[0].params)


# --------------------------------------------------------------------------- webhooks


def test_webhooks_are_refused_when_tampered_with_or_replayed(adapter: VendorAdapter, kit: Kit) -> None:
    if kit.deliver is None:
        headers, body = {"X-Signature": "sig"}, b'{"type":"verification"}'
        with pytest.raises(SignatureError):
            adapter.verify_webhook(headers, body, SECRET, NOW)
        return
    headers, body = kit.deliver(SECRET, NOW)
    adapter.verify_webhook(headers, body, SECRET, NOW)
    adapter.verify_webhook({k.swapcase(): v for k, v in headers.items()}, body, SECRET, NOW + 299)
    event = adapter.parse_webhook(json.loads(body))
    assert event.vendor == adapter.name and event.dedupe_key.startswith(adapter.name + ":")
    forged_headers, forged_body = kit.deliver("attacker-secret", NOW)
    tampered = [
        (forged_headers, forged_body, SECRET, NOW),  # signed with another secret
        (headers, body.replace(b"sleep", b"sleeq"), SECRET, NOW),  # body altered after signing
        (headers, body, SECRET, NOW + 301),  # replayed after the tolerance
        (headers, body, SECRET, NOW - 301),  # from the future
        ({}, body, SECRET, NOW),  # unsigned
        (headers, body, "", NOW),  # no secret configured: nothing verifies
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
    kit.probe(api)
    adapter.revoke(api)
    with pytest.raises(Unauthorized):
        kit.probe(api)
    with pytest.raises(InvalidGrant):
        adapter.refresh(http, fake.config(), tokens)
