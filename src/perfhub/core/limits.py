"""What the HTTP edge refuses before any endpoint runs: oversized bodies, unauthenticated
bodies, ambiguous JSON, and ids the database cannot hold.

:class:`RequestLimits` is a pure ASGI middleware (a ``BaseHTTPMiddleware`` would buffer and
re-wrap every body, the very thing it must prevent). For each request it looks up the path in
a table of :class:`RouteLimit` and then

1. refuses a declared ``Content-Length`` over the route's limit with 413 at once;
2. on routes that need a bearer token, authenticates a request that carries a body before
   reading a byte of it (401), with the same authentication (supplied by ``perfhub.auth``) the
   endpoint's dependency uses; the principal is left in ``request.state.principal``;
3. counts the bytes as they stream in (chunked bodies declare no length) and answers 413 as
   soon as the limit is passed, whatever the endpoint was doing with the body;
4. reads a JSON body (it is small by then) and refuses duplicate keys and the non-JSON
   constants ``NaN``/``Infinity`` with 422, which ``json.loads`` would silently accept.

A refusal while the client is still sending says ``Connection: close``, so the server stops
reading the rest rather than draining it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfhub.core.errors import NotFound, PayloadTooLarge, PerfhubError, Unauthorized, Unprocessable
from perfhub.core.problems import problem_response
from perfhub.settings import Settings

# Every id column is a 32-bit INTEGER on PostgreSQL; a larger id in a body or a query could only
# reach the database as an out-of-range error (a 500), so it is refused at the edge (422).


class StrictJsonError(ValueError):
    """JSON that ``json.loads`` accepts but that has no single meaning."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            # The last one would silently win: {"userId": 2, "userId": 3} is user 3.
            raise StrictJsonError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not a JSON value")


def strict_json_loads(raw: bytes | str) -> Any:
    """``json.loads`` that refuses duplicate keys, ``NaN``/``Infinity`` and absurd nesting
    (:class:`StrictJsonError`); malformed JSON raises ``json.JSONDecodeError`` as usual."""
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError as exc:
        raise StrictJsonError("nested too deeply") from exc


@dataclass(frozen=True)
class RouteLimit:
    """How the edge treats the paths ``pattern`` matches (in full)."""

    pattern: str
    max_bytes: Callable[[Settings], int]
    # A bearer token is checked before the body is read.
    authenticate: bool
    # A JSON body is read at the edge and refused when ambiguous. Off where a signature must be
    # checked first (webhooks) and where the body is a file (uploads).
    strict_json: bool = True

    def matches(self, path: str) -> bool:
        # DOTALL: a path may hold any character once decoded, a newline (%0A) too.
        return re.fullmatch(self.pattern, path, re.DOTALL) is not None


def route_limits(api_prefix: str) -> list[RouteLimit]:
    """The table, first match wins. Everything under the API needs a token except what vendors
    call (OAuth callbacks, webhooks); the rest of the site takes small bodies only."""
    api = re.escape(api_prefix)
    return [
        # The import checks its own limit too; the edge holds it whatever the endpoint does.
        RouteLimit(
            rf"{api}/import/apple-health",
            lambda s: s.apple_health_max_upload_bytes,
            authenticate=True,
            strict_json=False,
        ),
        RouteLimit(
            rf"{api}/plan/import",
            lambda s: s.plan_import_max_upload_bytes,
            authenticate=True,
            strict_json=False,
        ),
        RouteLimit(rf"{api}/ingest/batch", lambda s: s.max_batch_body_bytes, authenticate=True),
        RouteLimit(
            rf"{api}/webhooks/[^/]+",
            lambda s: s.max_webhook_body_bytes,
            authenticate=False,
            strict_json=False,
        ),
        RouteLimit(rf"{api}/connections/[^/]+/callback", lambda s: s.max_json_body_bytes, authenticate=False),
        RouteLimit(rf"{api}/.*", lambda s: s.max_json_body_bytes, authenticate=True),
        # The web page's upload of the same file: the page checks the session cookie and its
        # CSRF token itself (no bearer token), and the body is a file or a form holding one.
        RouteLimit(
            r"/connections/apple-health",
            lambda s: s.apple_health_max_upload_bytes,
            authenticate=False,
            strict_json=False,
        ),
        RouteLimit(r".*", lambda s: s.max_json_body_bytes, authenticate=False),
    ]


class _BodyTooLarge(Exception):
    """Raised from ``receive`` into the endpoint, to stop whatever it is doing with the body."""


def _is_json(content_type: str | None) -> bool:
    # As FastAPI decides whether to parse a body as JSON: no type at all counts.
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        authenticate: Callable[[str], Any],
        routes: Sequence[RouteLimit],
    ) -> None:
        # `authenticate` turns a bearer token into the caller's principal in a transaction of its
        # own, or raises Unauthorized; the auth domain supplies it, so the edge knows no domain.
        self.app = app
        self.settings = settings
        self.authenticate = authenticate
        self.routes = list(routes)

    def route_for(self, path: str) -> RouteLimit:
        return next(route for route in self.routes if route.matches(path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].endswith("\n"):
            # Starlette matches routes with `^…$`, and `$` also matches before a final newline:
            # "/\n" would reach `GET /`. No address of ours ends in a newline.
            await _refuse(scope, receive, send, NotFound("no such address"))
            return
        route = self.route_for(scope["path"])
        limit = route.max_bytes(self.settings)
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        has_body = bool(declared) or "transfer-encoding" in headers
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, _too_large(limit))
            return
        if has_body and route.authenticate:
            try:
                principal = await anyio.to_thread.run_sync(self._authenticate, headers.get("authorization"))
            except Unauthorized as exc:
                await _refuse(scope, receive, send, exc)
                return
            except DBAPIError:
                # The database cannot be asked now. The endpoint authenticates again and answers
                # an outage as it always does (503, core.outage); the body stays capped meanwhile.
                pass
            else:
                scope.setdefault("state", {})["principal"] = principal
        if has_body and route.strict_json and _is_json(headers.get("content-type")):
            await self._strict_json(scope, receive, send, limit)
            return
        await self._counted(scope, receive, send, limit)

    def _authenticate(self, authorization: str | None) -> Any:
        scheme, token = get_authorization_scheme_param(authorization)
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("missing bearer token")
        return self.authenticate(token)

    async def _strict_json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: there is no one to answer
            body += message.get("body", b"")
            if len(body) > limit:
                await _refuse(scope, receive, send, _too_large(limit))
                return
            if not message.get("more_body", False):
                break
        try:
            strict_json_loads(bytes(body))
        except StrictJsonError as exc:
            error = Unprocessable(f"Invalid request: body: {exc}", [{"loc": ["body"], "msg": str(exc)}])
            await problem_response(error, Request(scope))(scope, receive, send)
            return
        except ValueError:
            pass  # not JSON at all (or not UTF-8): the endpoint answers that, as it always has

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # waits for the disconnect, as the server would
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The endpoint may have turned _BodyTooLarge into an answer of its own (FastAPI
                # makes any failure to read a body a 400); the answer is 413 all the same.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _refuse(scope, receive, send, _too_large(limit))
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # Whatever the endpoint raised once the limit was passed, the answer is 413.
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(scope, receive, send, _too_large(limit))


def _content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None or not raw.isdigit():
        return None  # the server itself refuses a malformed length
    return int(raw)


def _too_large(limit: int) -> PerfhubError:
    return PayloadTooLarge(f"the request body is larger than this endpoint accepts ({limit} bytes)")


async def _refuse(scope: Scope, receive: Receive, send: Send, error: PerfhubError) -> None:
    response = problem_response(error, Request(scope))
    # The body (or its rest) is still on its way: close rather than read it all to keep alive.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
