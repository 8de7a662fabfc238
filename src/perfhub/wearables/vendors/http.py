"""Retrying HTTP over a caller-supplied ``httpx.Client``, typed errors for 4xx, and the bearer client.

Synchronous so that workers, the CLI and tests (through the in-process fakes under ``tests/fakes``)
drive the same code. Nothing here logs or formats a token or a client secret.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import httpx

from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import (
    RateLimited,
    RecordNotFound,
    Unauthorized,
    VendorError,
    VendorUnavailable,
)
from perfhub.wearables.vendors.parsing import require_mapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # total tries, the first included
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 60.0  # a longer Retry-After raises RateLimited instead of blocking a worker
    max_total_wait_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random
    clock: Callable[[], float] = time.time

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^(attempt-1)))."""
        return self.random() * min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))


DEFAULT_RETRY = RetryPolicy()

# Statuses where a non-idempotent request (a token grant) was certainly not acted on.
_SAFE_TO_REPEAT = {429, 502, 503, 504}
# Transport errors raised before the request reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta or HTTP date), else ``X-RateLimit-Reset``."""
    raw = response.headers.get("retry-after")
    if raw is not None:
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    reset = response.headers.get("x-ratelimit-reset")
    if reset is not None:
        try:
            value = float(reset)
        except ValueError:
            return None
        # WHOOP documents seconds until the window resets; an epoch value is handled all the same.
        return max(0.0, value - now) if value > 1e9 else max(0.0, value)
    return None


def _where(url: str) -> str:
    # Query strings can carry paging tokens and codes: keep logs to host and path.
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    idempotent: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """Send with retries: 429 waits Retry-After, 5xx and transport errors back off with full jitter.

    Returns the first response that is neither 429 nor 5xx (4xx included: the caller interprets it).
    Raises ``RateLimited`` or ``VendorUnavailable`` once ``policy`` is spent. A non-idempotent request
    is only repeated when the vendor certainly did not act on it, so that a rotating refresh token
    is never replayed after a lost response.
    """
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            response = http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            if not idempotent and not isinstance(exc, _NOT_SENT):
                raise VendorUnavailable(f"{method} {_where(url)}: {type(exc).__name__}") from exc
            delay = policy.backoff(attempt)
            if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait_s:
                raise VendorUnavailable(
                    f"{method} {_where(url)}: {type(exc).__name__} after {attempt} attempts"
                ) from exc
            log.warning(
                "%s %s: %s; retry %d in %.1fs", method, _where(url), type(exc).__name__, attempt, delay
            )
        else:
            status = response.status_code
            if status != 429 and status < 500:
                return response
            if not idempotent and status not in _SAFE_TO_REPEAT:
                raise VendorUnavailable(f"{method} {_where(url)}: HTTP {status}", status_code=status)
            if status == 429:
                hint = retry_after_seconds(response, policy.clock())
                if hint is not None and hint > policy.max_retry_after_s:
                    raise RateLimited(
                        f"{method} {_where(url)}: rate limited for {hint:.0f}s", retry_after=hint
                    )
                delay = hint if hint is not None else policy.backoff(attempt)
                if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait_s:
                    raise RateLimited(
                        f"{method} {_where(url)}: still rate limited after {attempt} attempts",
                        retry_after=hint,
                    )
            else:
                delay = policy.backoff(attempt)
                if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait_s:
                    raise VendorUnavailable(
                        f"{method} {_where(url)}: HTTP {status} after {attempt} attempts", status_code=status
                    )
            log.warning("%s %s: HTTP %d; retry %d in %.1fs", method, _where(url), status, attempt, delay)
        policy.sleep(delay)
        waited += delay


def error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        code = body.get("error")
        if isinstance(code, str):
            return code
        if isinstance(code, dict) and isinstance(code.get("status"), str):
            return str(code["status"])  # Google's {"error": {"code", "message", "status"}}
    return None


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Raise the typed error for a 4xx; only the status and the vendor's error code are kept."""
    status = response.status_code
    if status < 400:
        return response
    code = error_code(response)
    detail = f"{what}: HTTP {status}" + (f" ({code})" if code else "")
    if status == 401:
        raise Unauthorized(detail, status_code=status)
    if status == 404:
        raise RecordNotFound(detail, status_code=status)
    raise VendorError(detail, status_code=status)


def json_body(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise VendorError(f"{what}: response is not JSON", status_code=response.status_code) from exc


class ApiClient:
    """Bearer-token JSON client over one ``httpx.Client``; vendor clients add the paths."""

    def __init__(
        self,
        http: httpx.Client,
        token: str,
        config: VendorConfig,
        *,
        policy: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._http = http
        self._token = token
        self.config = config
        self.policy = policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.name}, {self.config.api_base})"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        url = self.config.url(path)
        response = send(self._http, "GET", url, policy=self.policy, params=params, headers=self._headers())
        what = f"{self.config.name} GET {urlsplit(url).path}"
        return json_body(check(response, what), what)

    def _pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        *,
        what: str,
        items: str,
        next_token: str,
        token_param: str,
        key_of: Callable[[dict[str, Any]], str | None],
        empty_omitted: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a token-paged list once, in the vendor's order.

        Each page holds its items under ``items`` and the next page's token under ``next_token``,
        sent back as ``token_param``. Vendors repeat items across pages when data changes while
        paging, so items are told apart by ``key_of`` (None: never a repeat). A page without the
        list (unless the vendor omits empty lists), an item that is not an object, or a token
        seen before is a :class:`VendorError` (following it could loop forever); a page that is
        not an object a :class:`MappingError`.
        """
        query = dict(params)
        seen_keys: set[str] = set()
        seen_tokens: set[str] = set()
        while True:
            body = require_mapping(self._get(path, query), f"{what} page")
            page = body.get(items, [] if empty_omitted else None)
            if not isinstance(page, list):
                raise VendorError(f"{what} page without a {items} list")
            for item in page:
                if not isinstance(item, dict):
                    raise VendorError(f"{what} page holds a non-object")
                key = key_of(item)
                if key is not None:
                    if key in seen_keys:
                        continue
                    seen_keys.add(key)
                yield item
            token = body.get(next_token)
            if not token:
                return
            if token in seen_tokens:
                raise VendorError(f"{what} paging repeats a {next_token}")
            seen_tokens.add(str(token))
            query[token_param] = str(token)

    def _delete(self, path: str) -> None:
        url = self.config.url(path)
        response = send(self._http, "DELETE", url, policy=self.policy, headers=self._headers())
        check(response, f"{self.config.name} DELETE {urlsplit(url).path}")
