"""Local fakes of the vendors' APIs, built from docs/vendors.md (not from our clients).

Each fake (``FakeOura``, ``FakeWhoop``, ``FakeGoogle``) is an in-memory vendor: an OAuth server
with expiring access tokens and (where the vendor does it) rotating refresh tokens, record stores
tests populate, the vendor's paging, 429 and outage knobs, and a request log to assert on.
``fake.app`` is a Starlette ASGI app. Two ways to talk to it:

- In process (fast, what the vendor tests use)::

      fake = FakeOura()
      with in_process(fake) as http:          # an httpx.Client with an in-process transport
          config = fake.config()              # VendorConfig pointing at http://fake-oura
          OuraClient(http, token, config).list_records(...)

  Any host name works: the transport hands every request to the app.

- Over real HTTP, for code that builds its own ``httpx.Client`` from settings::

      with serve(fake.app) as base_url:       # uvicorn on 127.0.0.1:<free port> in a thread
          config = fake.config(base_url)      # or set PERFHUB_OURA_API_BASE=base_url etc.

Time is a ``FakeClock`` shared with the test, so code expiry and token expiry are deterministic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from perfhub.wearables.vendors.adapter import VendorAdapter
    from perfhub.wearables.vendors.config import VendorConfig

Endpoint = Callable[[Request], Awaitable[Response]]

START_OF_2026 = 1_767_225_600.0


class FakeClock:
    """Seconds since the epoch, moved only by the test."""

    def __init__(self, now: float = START_OF_2026) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Grant:
    """An authorization code and what it was issued for."""

    user_id: str
    client_id: str
    redirect_uri: str
    scope: str
    issued_at: float
    code_challenge: str | None
    offline: bool


@dataclass
class Issued:
    user_id: str
    scope: str
    expires_at: float
    offline: bool


class FakeOAuth:
    """An authorization server as the vendors document theirs: form-encoded token endpoint with the
    client credentials in the body, single-use codes, expiring access tokens, and refresh tokens that
    stop working once used when ``rotate`` is on."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        client_id: str,
        client_secret: str,
        allowed_scopes: set[str],
        access_ttl_s: int,
        code_ttl_s: int = 600,
        rotate: bool = True,
        pkce: bool = False,
        min_state_length: int = 0,
        refresh_needs_offline_scope: bool = False,
        offline_from: Callable[[str, dict[str, str]], bool] = lambda scope, params: True,
    ) -> None:
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.allowed_scopes = allowed_scopes
        self.access_ttl_s = access_ttl_s
        self.code_ttl_s = code_ttl_s
        self.rotate = rotate
        self.pkce = pkce
        self.min_state_length = min_state_length
        self.refresh_needs_offline_scope = refresh_needs_offline_scope
        self.offline_from = offline_from
        self.authorize_as: str | None = None  # the user who "logs in and consents"; None declines
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, Issued] = {}
        self.refresh_tokens: dict[str, Issued] = {}

    # -- endpoints ---------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        if q.get("client_id") != self.client_id or not q.get("redirect_uri"):
            return JSONResponse({"error": "invalid_client"}, 400)
        redirect_uri = q["redirect_uri"]
        state = q.get("state", "")

        def back(**params: str) -> Response:
            return RedirectResponse(f"{redirect_uri}?{urlencode({**params, 'state': state})}", 302)

        if q.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if len(state) < self.min_state_length:
            return back(error="invalid_state", error_description="state is too short")
        scope = q.get("scope", "")
        if not set(scope.split()) <= self.allowed_scopes:
            return back(error="invalid_scope")
        challenge = q.get("code_challenge") if self.pkce else None
        if challenge is not None and q.get("code_challenge_method") != "S256":
            return back(error="invalid_request", error_description="only S256 is supported")
        if self.authorize_as is None:
            return back(error="access_denied")
        code = secrets.token_urlsafe(16)
        self.codes[code] = Grant(
            user_id=self.authorize_as,
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            issued_at=self.clock(),
            code_challenge=challenge,
            offline=self.offline_from(scope, q),
        )
        return back(code=code)

    async def token(self, request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return _oauth_error("invalid_request", "the token endpoint takes a form body")
        form = {key: str(value) for key, value in (await request.form()).items()}
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return _oauth_error("invalid_client", "client authentication failed", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(form)
        if grant_type == "refresh_token":
            return self._refresh_grant(form)
        return _oauth_error("unsupported_grant_type", str(grant_type))

    def _code_grant(self, form: dict[str, str]) -> Response:
        grant = self.codes.pop(form.get("code", ""), None)  # single use, even when it fails below
        if grant is None:
            return _oauth_error("invalid_grant", "unknown or used code")
        if self.clock() - grant.issued_at > self.code_ttl_s:
            return _oauth_error("invalid_grant", "code expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri mismatch")
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.code_challenge:
                return _oauth_error("invalid_grant", "PKCE verification failed")
        return self._issue(grant.user_id, grant.scope, grant.offline, with_refresh=grant.offline)

    def _refresh_grant(self, form: dict[str, str]) -> Response:
        presented = form.get("refresh_token", "")
        issued = self.refresh_tokens.get(presented)
        if issued is None:
            return _oauth_error("invalid_grant", "refresh token is invalid, used or revoked")
        if self.rotate:
            del self.refresh_tokens[presented]
            new_refresh = not self.refresh_needs_offline_scope or "offline" in form.get("scope", "").split()
            return self._issue(issued.user_id, issued.scope, issued.offline, with_refresh=new_refresh)
        return self._issue(issued.user_id, issued.scope, issued.offline, with_refresh=False)

    def _issue(self, user_id: str, scope: str, offline: bool, *, with_refresh: bool) -> Response:
        access = "at-" + secrets.token_urlsafe(16)
        self.access_tokens[access] = Issued(user_id, scope, self.clock() + self.access_ttl_s, offline)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.access_ttl_s,
            "scope": scope,
        }
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(16)
            self.refresh_tokens[refresh] = Issued(user_id, scope, float("inf"), offline)
            body["refresh_token"] = refresh
        return JSONResponse(body)

    # -- helpers for fakes and tests --------------------------------------------------------

    def bearer(self, request: Request, needed_scope: str | None = None) -> Issued | None:
        """The grant behind a valid, unexpired access token (with ``needed_scope``), else None."""
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        issued = self.access_tokens.get(auth[7:].strip())
        if issued is None or self.clock() >= issued.expires_at:
            return None
        if needed_scope is not None and needed_scope not in issued.scope.split():
            return None
        return issued

    def revoke_user(self, user_id: str) -> None:
        for store in (self.access_tokens, self.refresh_tokens):
            for token in [t for t, issued in store.items() if issued.user_id == user_id]:
                del store[token]

    def revoke_refresh_tokens(self) -> None:
        self.refresh_tokens.clear()

    def issue_for_test(self, user_id: str, scope: str | None = None) -> str:
        """An access token without the browser dance, for data-endpoint tests."""
        access = "at-" + secrets.token_urlsafe(16)
        self.access_tokens[access] = Issued(
            user_id, scope or " ".join(sorted(self.allowed_scopes)), self.clock() + self.access_ttl_s, True
        )
        return access


def _oauth_error(code: str, description: str, status: int = 400) -> Response:
    return JSONResponse({"error": code, "error_description": description}, status)


class FakeVendor:
    """Shared plumbing: the app's credentials and OAuth server, ``config()`` pointing a vendor adapter
    at the fake, request log, fault injection, where webhooks go, app assembly.

    A vendor's fake names its ``adapter``, where the OAuth endpoints and the API live under its base
    URL and its default credentials, passes its OAuth server's settings (``FakeOAuth``'s keywords) up,
    and lists ``api_routes``. Every fake takes ``clock``, ``client_id``, ``client_secret`` and
    ``callback_http`` (where handshakes and deliveries go; None means real HTTP to the callback URL).
    """

    name = "vendor"
    adapter: VendorAdapter  # whose config() is pointed at the fake
    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    api_path = ""  # the API base, under the base URL
    default_client_id = "vendor-client-id"
    default_client_secret = "vendor-client-secret"

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        callback_http: httpx.Client | None = None,
        **oauth: Any,
    ) -> None:
        self.clock = clock or FakeClock()
        self.client_id = client_id or self.default_client_id
        self.client_secret = client_secret or self.default_client_secret
        self.callback_http = callback_http
        self.oauth = FakeOAuth(
            self.clock, client_id=self.client_id, client_secret=self.client_secret, **oauth
        )
        self.requests: list[Recorded] = []
        self._faults: list[_Fault] = []
        self._app: Starlette | None = None

    def config(self, base_url: str | None = None) -> VendorConfig:
        """The adapter's VendorConfig with this fake's credentials, at ``base_url`` (``http://fake-<name>``)."""
        base_url = base_url or f"http://fake-{self.name}"
        return self.adapter.config(
            self.client_id,
            self.client_secret,
            authorize_url=base_url + self.authorize_path,
            token_url=base_url + self.token_path,
            api_base=base_url + self.api_path,
        )

    def callback_client(self) -> httpx.Client:
        return self.callback_http or httpx.Client(timeout=10)

    # -- knobs --------------------------------------------------------------------------------

    def rate_limit_next(self, n: int, retry_after: float = 1.0) -> None:
        """The next ``n`` requests (any endpoint) get the vendor's 429."""
        for _ in range(n):
            self._faults.append(_Fault(429, self.rate_limit_headers(retry_after), self.rate_limit_body()))

    def outage_next(self, n: int, status: int = 503) -> None:
        """The next ``n`` requests (any endpoint) fail with ``status``."""
        for _ in range(n):
            self._faults.append(_Fault(status, {}, {"error": "temporarily unavailable"}))

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {"Retry-After": str(int(retry_after))}

    def rate_limit_body(self) -> Any:
        return {"error": "rate limited"}

    def calls(self, path_suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    # -- app ----------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, Endpoint, list[str]]]:
        return [
            (self.authorize_path, self.oauth.authorize, ["GET"]),
            (self.token_path, self.oauth.token, ["POST"]),
            *self.api_routes(),
        ]

    def api_routes(self) -> list[tuple[str, Endpoint, list[str]]]:
        raise NotImplementedError

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = Starlette(
                routes=[Route(path, self._wrap(fn), methods=methods) for path, fn, methods in self.routes()]
            )
        return self._app

    def _wrap(self, fn: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = {key: str(value) for key, value in (await request.form()).items()}
            self.requests.append(
                Recorded(
                    request.method,
                    request.url.path,
                    dict(request.query_params),
                    {k.lower(): v for k, v in request.headers.items()},
                    form,
                )
            )
            if self._faults:
                fault = self._faults.pop(0)
                return JSONResponse(fault.body, fault.status, headers=fault.headers)
            return await fn(request)

        return endpoint


# --------------------------------------------------------------------------- paging and tokens


def page_token(offset: int, fingerprint: str) -> str:
    """Opaque to clients, bound to the query it came from, as vendors' cursors are."""
    raw = json.dumps({"o": offset, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_page_token(token: str, fingerprint: str) -> int | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        if data["q"] != fingerprint:
            return None
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        return None


def fingerprint(*parts: str | None) -> str:
    return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:16]


def page_of(items: list[Any], token: str | None, key: str, size: int) -> tuple[list[Any], str | None] | None:
    """The page ``token`` asks for (the first without one) and the next page's token (None on the
    last page); None when the token is not one this query (``key``) handed out."""
    offset = 0
    if token is not None:
        found = read_page_token(token, key)
        if found is None:
            return None
        offset = found
    more = offset + size < len(items)
    return items[offset : offset + size], page_token(offset + size, key) if more else None


# --------------------------------------------------------------------------- ways to reach a fake


class SyncASGITransport(httpx.BaseTransport):
    """Sync ``httpx`` transport into an ASGI app: ``httpx.ASGITransport`` run on an anyio portal."""

    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            response = await self._transport.handle_async_request(request)
            raw = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return httpx.Response(
                response.status_code, headers=response.headers, content=raw, request=request
            )

        return self._portal.call(call)


@contextmanager
def in_process(fake: FakeVendor | Any) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` whose requests go straight to the fake's (or any) ASGI app."""
    app = fake.app if isinstance(fake, FakeVendor) else fake
    with start_blocking_portal() as portal, httpx.Client(transport=SyncASGITransport(app, portal)) as client:
        yield client


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 at a free port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fake vendor server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
