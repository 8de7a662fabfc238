"""Shared vendor plumbing: retries and budgets, OAuth helpers, PKCE, typed errors, secrecy in reprs."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fakes import FakeClock, in_process, serve
from tests.fakes.oura import FakeOura

from perfhub.wearables.vendors import http as vendor_http
from perfhub.wearables.vendors import oauth, signing
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import (
    InvalidGrant,
    RateLimited,
    RecordNotFound,
    SignatureError,
    Unauthorized,
    VendorError,
    VendorUnavailable,
)
from perfhub.wearables.vendors.http import RetryPolicy
from perfhub.wearables.vendors.oauth import TokenSet

NOW = 1_767_225_600.0
URL = "https://vendor.example/v2/things?next_token=secret-cursor"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def policy(sleeps: Sleeps, **overrides: float) -> RetryPolicy:
    values = {"max_attempts": 4, "base_delay_s": 1.0, "max_delay_s": 8.0, "max_retry_after_s": 30.0}
    values.update(overrides)
    return RetryPolicy(
        max_attempts=int(values["max_attempts"]),
        base_delay_s=values["base_delay_s"],
        max_delay_s=values["max_delay_s"],
        max_retry_after_s=values["max_retry_after_s"],
        max_total_wait_s=values.get("max_total_wait_s", 120.0),
        sleep=sleeps,
        random=lambda: 0.5,
        clock=lambda: NOW,
    )


def scripted(*steps: httpx.Response | type[Exception]) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose successive requests get the given responses (or raise the given errors)."""
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, httpx.Response):
            return step
        raise step("boom", request=request)  # type: ignore[call-arg]

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


# --------------------------------------------------------------------------- retries


def test_429_waits_retry_after_then_succeeds() -> None:
    sleeps = Sleeps()
    http, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(200, json={"ok": True}),
    )
    response = vendor_http.send(http, "GET", URL, policy=policy(sleeps))
    assert response.json() == {"ok": True}
    assert sleeps.calls == [7.0, 2.0]
    assert len(seen) == 3


def test_retry_after_as_http_date_and_x_ratelimit_reset() -> None:
    sleeps = Sleeps()
    when = format_datetime(datetime.fromtimestamp(NOW + 12, UTC), usegmt=True)
    http, _ = scripted(
        httpx.Response(429, headers={"Retry-After": when}),
        httpx.Response(429, headers={"X-RateLimit-Reset": "5"}),
        httpx.Response(429, headers={"X-RateLimit-Reset": str(int(NOW) + 3)}),
        httpx.Response(200),
    )
    vendor_http.send(http, "GET", URL, policy=policy(sleeps, max_attempts=5))
    assert sleeps.calls == [12.0, 5.0, 3.0]


def test_429_without_a_hint_backs_off_with_jitter() -> None:
    sleeps = Sleeps()
    http, _ = scripted(httpx.Response(429), httpx.Response(429), httpx.Response(200))
    vendor_http.send(http, "GET", URL, policy=policy(sleeps))
    assert sleeps.calls == [0.5, 1.0]  # random()=0.5 × base·2^(n-1)


def test_retry_after_beyond_the_cap_raises_at_once_with_the_hint() -> None:
    sleeps = Sleeps()
    http, seen = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as caught:
        vendor_http.send(http, "GET", URL, policy=policy(sleeps))
    assert caught.value.retry_after == 3600.0
    assert sleeps.calls == []
    assert len(seen) == 1


def test_rate_limit_budget_exhausted() -> None:
    sleeps = Sleeps()
    http, seen = scripted(*[httpx.Response(429, headers={"Retry-After": "1"})] * 4)
    with pytest.raises(RateLimited) as caught:
        vendor_http.send(http, "GET", URL, policy=policy(sleeps))
    assert caught.value.retry_after == 1.0
    assert len(seen) == 4
    assert sleeps.calls == [1.0, 1.0, 1.0]


def test_5xx_backs_off_exponentially_then_succeeds() -> None:
    sleeps = Sleeps()
    http, _ = scripted(httpx.Response(503), httpx.Response(500), httpx.Response(502), httpx.Response(200))
    assert vendor_http.send(http, "GET", URL, policy=policy(sleeps)).status_code == 200
    assert sleeps.calls == [0.5, 1.0, 2.0]


def test_5xx_budget_exhausted_raises_unavailable() -> None:
    sleeps = Sleeps()
    http, seen = scripted(*[httpx.Response(503)] * 4)
    with pytest.raises(VendorUnavailable) as caught:
        vendor_http.send(http, "GET", URL, policy=policy(sleeps))
    assert caught.value.status_code == 503
    assert len(seen) == 4
    assert "secret-cursor" not in str(caught.value)  # query strings stay out of errors and logs


def test_total_wait_budget_stops_early() -> None:
    sleeps = Sleeps()
    http, seen = scripted(*[httpx.Response(429, headers={"Retry-After": "20"})] * 4)
    with pytest.raises(RateLimited):
        vendor_http.send(http, "GET", URL, policy=policy(sleeps, max_total_wait_s=30))
    assert sleeps.calls == [20.0]
    assert len(seen) == 2


def test_transport_errors_are_retried() -> None:
    sleeps = Sleeps()
    http, _ = scripted(httpx.ConnectError, httpx.ReadTimeout, httpx.Response(200))
    assert vendor_http.send(http, "GET", URL, policy=policy(sleeps)).status_code == 200
    assert len(sleeps.calls) == 2


def test_transport_budget_exhausted() -> None:
    sleeps = Sleeps()
    http, _ = scripted(*[httpx.ConnectError] * 4)
    with pytest.raises(VendorUnavailable):
        vendor_http.send(http, "GET", URL, policy=policy(sleeps))


def test_non_idempotent_requests_are_not_replayed_after_they_may_have_landed() -> None:
    sleeps = Sleeps()
    http, seen = scripted(httpx.ReadTimeout)
    with pytest.raises(VendorUnavailable):
        vendor_http.send(http, "POST", URL, policy=policy(sleeps), idempotent=False)
    assert len(seen) == 1
    http, seen = scripted(httpx.Response(500))
    with pytest.raises(VendorUnavailable):
        vendor_http.send(http, "POST", URL, policy=policy(sleeps), idempotent=False)
    assert len(seen) == 1
    # Refused connections and 503/429 were certainly not acted on: those are repeated.
    http, seen = scripted(httpx.ConnectError, httpx.Response(503), httpx.Response(429), httpx.Response(200))
    assert vendor_http.send(http, "POST", URL, policy=policy(sleeps), idempotent=False).status_code == 200
    assert len(seen) == 4


def test_4xx_is_returned_not_retried() -> None:
    sleeps = Sleeps()
    http, seen = scripted(httpx.Response(400))
    assert vendor_http.send(http, "GET", URL, policy=policy(sleeps)).status_code == 400
    assert len(seen) == 1 and sleeps.calls == []


@given(attempt=st.integers(min_value=1, max_value=40), r=st.floats(min_value=0.0, max_value=0.999999))
def test_full_jitter_stays_within_the_cap(attempt: int, r: float) -> None:
    retry = RetryPolicy(base_delay_s=0.5, max_delay_s=30.0, random=lambda: r)
    delay = retry.backoff(attempt)
    assert 0.0 <= delay <= min(30.0, 0.5 * 2 ** (attempt - 1))


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, Unauthorized), (404, RecordNotFound), (403, VendorError), (422, VendorError)],
)
def test_check_maps_statuses_to_typed_errors(status: int, error: type[Exception]) -> None:
    response = httpx.Response(status, json={"error": "nope"}, request=httpx.Request("GET", URL))
    with pytest.raises(error):
        vendor_http.check(response, "thing")


# --------------------------------------------------------------------------- OAuth helpers


def config(**overrides: object) -> VendorConfig:
    values: dict[str, object] = {
        "name": "acme",
        "authorize_url": "https://auth.example/authorize",
        "token_url": "https://auth.example/token",
        "api_base": "https://api.example",
        "scopes": ("a", "b"),
        "uses_pkce": True,
        "client_id": "cid",
        "client_secret": "very-secret",
    }
    values.update(overrides)
    return VendorConfig(**values)  # type: ignore[arg-type]


def test_pkce_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    fresh, challenge = oauth.new_pkce_pair()
    assert 43 <= len(fresh) <= 128 and oauth.code_challenge_s256(fresh) == challenge


def test_authorization_url() -> None:
    url = oauth.authorization_url(config(), "state-abcdef", "https://hub.example/cb", "challenge-x")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith("https://auth.example/authorize?")
    assert query == {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "https://hub.example/cb",
        "scope": "a b",
        "state": "state-abcdef",
        "code_challenge": "challenge-x",
        "code_challenge_method": "S256",
    }
    assert "very-secret" not in url
    with pytest.raises(ValueError, match="at least 8"):
        oauth.authorization_url(config(), "short", "https://hub.example/cb")


def token_endpoint(status: int, body: dict[str, object]) -> tuple[httpx.Client, list[httpx.Request]]:
    return scripted(httpx.Response(status, json=body))


def test_refresh_keeps_the_old_refresh_token_when_none_is_returned() -> None:
    http, seen = token_endpoint(200, {"access_token": "new-at", "expires_in": 3600, "token_type": "Bearer"})
    old = TokenSet("old-at", "keep-me", expires_at=1.0, scope="a b")
    fresh = oauth.refresh(http, config(), old, now=100.0)
    assert (fresh.access_token, fresh.refresh_token, fresh.expires_at, fresh.scope) == (
        "new-at",
        "keep-me",
        3700.0,
        "a b",
    )
    form = parse_qs(seen[0].content.decode())
    assert form["grant_type"] == ["refresh_token"] and form["client_secret"] == ["very-secret"]


def test_refresh_errors() -> None:
    http, _ = token_endpoint(400, {"error": "invalid_grant"})
    with pytest.raises(InvalidGrant):
        oauth.refresh(http, config(), TokenSet("at", "rt"))
    with pytest.raises(InvalidGrant):
        oauth.refresh(http, config(), TokenSet("at", None))
    http, _ = token_endpoint(401, {"error": "invalid_client"})
    with pytest.raises(VendorError) as caught:
        oauth.refresh(http, config(), TokenSet("at", "rt"))
    assert not isinstance(caught.value, InvalidGrant)
    http, _ = token_endpoint(200, {"token_type": "bearer"})
    with pytest.raises(VendorError, match="no access_token"):
        oauth.exchange_code(http, config(), "code", "https://hub.example/cb")


def test_secrets_stay_out_of_reprs() -> None:
    tokens = TokenSet("access-SECRET", "refresh-SECRET", 5.0, "a")
    assert "SECRET" not in repr(tokens)
    assert "very-secret" not in repr(config())
    assert TokenSet.from_dict(tokens.to_dict()) == tokens
    assert tokens.expires_soon(now=0.0, leeway_s=10) and not tokens.expires_soon(now=0.0, leeway_s=1)


# --------------------------------------------------------------------------- webhook helpers


def test_header_lookup_ignores_case_and_freshness_is_two_sided() -> None:
    assert signing.header({"X-Thing": "1"}, "x-thing") == "1"
    signing.check_freshness(1000.0, now=1200.0, tolerance_s=300)
    with pytest.raises(SignatureError, match="old"):
        signing.check_freshness(1000.0, now=1301.0, tolerance_s=300)
    with pytest.raises(SignatureError, match="future"):
        signing.check_freshness(1400.0, now=1000.0, tolerance_s=300)


# --------------------------------------------------------------------------- fakes over real HTTP


def run_code_flow(http: httpx.Client, fake: FakeOura, cfg: VendorConfig) -> TokenSet:
    location = http.get(oauth.authorization_url(cfg, "state-0123456789", "http://hub/cb")).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    return oauth.exchange_code(http, cfg, code, "http://hub/cb", now=fake.clock())


def test_a_fake_serves_real_http_for_clients_that_build_their_own() -> None:
    fake = FakeOura()
    fake.oauth.authorize_as = fake.add_user("real-http-user")
    with serve(fake.app) as base_url, httpx.Client() as http:
        tokens = run_code_flow(http, fake, fake.config(base_url))
    assert tokens.refresh_token and tokens.expires_at == fake.clock() + 86_400


def test_in_process_fakes_answer_any_host_name() -> None:
    fake = FakeOura(clock=FakeClock(2_000_000_000.0))
    fake.oauth.authorize_as = fake.add_user()
    with in_process(fake) as http:
        tokens = run_code_flow(http, fake, fake.config("https://api.ouraring.test"))
    assert tokens.expires_at == 2_000_086_400.0
