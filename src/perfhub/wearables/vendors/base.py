"""Pieces every vendor module shares: config, tokens, typed errors, retrying HTTP, OAuth2 and PKCE.

Everything here is synchronous over a caller-supplied ``httpx.Client`` so that workers, the CLI and
tests (through the in-process fakes under ``tests/fakes``) drive the same code. Nothing in this
package logs or formats an access token, refresh token, authorization code or client secret.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import logging
import math
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock_time
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import httpx

log = logging.getLogger(__name__)

MIN_STATE_LENGTH = 8  # WHOOP rejects shorter states; a shorter state is too guessable anyway


# --------------------------------------------------------------------------- errors


class VendorError(Exception):
    """A vendor call failed in a way retrying will not fix (bad request, forbidden, odd response)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimited(VendorError):
    """429 that outlasted the retry budget, or whose Retry-After is longer than we will block for.

    ``retry_after`` (seconds, or None when the vendor gave no hint) tells the caller when to reschedule.
    """

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status_code=429)
        self.retry_after = retry_after


class VendorUnavailable(VendorError):
    """5xx or transport failures that outlasted the retry budget; the caller dead-letters or reschedules."""


class Unauthorized(VendorError):
    """The access token was rejected (expired or revoked): refresh it and try again."""


class InvalidGrant(VendorError):
    """The refresh token (or code) was rejected: the link is dead and the athlete must relink."""


class RecordNotFound(VendorError):
    """The vendor has no such record (deleted since the notification, or never existed)."""


class SignatureError(Exception):
    """A webhook delivery failed verification; answer 401 and do nothing else with it."""


class MappingError(ValueError):
    """A vendor record cannot become a canonical payload; the reason goes to the dead-letter store."""


# --------------------------------------------------------------------------- shared value types


@dataclass(frozen=True)
class VendorConfig:
    name: str
    authorize_url: str
    token_url: str
    api_base: str
    scopes: tuple[str, ...]
    uses_pkce: bool
    client_id: str
    client_secret: str = field(repr=False)
    # Vendor-specific extras: Google needs access_type=offline to hand out a refresh token at all.
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    # WHOOP wants scope=offline on a refresh or it issues no new refresh token.
    refresh_scope: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def url(self, path: str) -> str:
        return self.api_base.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # Unix seconds; None when the vendor did not say
    scope: str | None = None

    def expires_soon(self, now: float, leeway_s: float = 60.0) -> bool:
        return self.expires_at is not None and now >= self.expires_at - leeway_s

    def to_dict(self) -> dict[str, Any]:
        """For the caller's encrypted storage; never log the result."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"),
            scope=data.get("scope"),
        )


@dataclass(frozen=True)
class WebhookEvent:
    """One verified vendor notification, reduced to what the pipeline needs to fetch the record."""

    vendor: str
    kind: str  # vendor data type: "sleep", "daily_readiness", "recovery", "workout", …
    object_id: str
    event: Literal["updated", "deleted"]
    vendor_user_id: str
    dedupe_key: str
    event_time: str | None = None


@dataclass(frozen=True)
class Deletion:
    """The vendor removed a record: the canonical ``kind`` row(s) that came from it must go or be superseded.

    ``object_id`` is the vendor record id the rows were mapped from and is authoritative when present
    (keep it with the landed raw event); ``date`` is set when the record itself told us its day.
    """

    kind: Literal["hrv", "sleep"]
    vendor: str
    object_id: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Refused:
    """One part of a vendor record that cannot become canonical, and why; the rest of the record maps.

    A vendor document carries several signals (a night's HRV and resting HR, its sleep, a vendor
    score); one inconsistent field must not cost the others. ``signal`` names the canonical payload
    the part would have fed (``"hrv"`` or ``"sleep"``), ``part`` the vendor's own fields it was built
    from, so that the dead letter the pipeline files for it shows what was refused.
    """

    signal: Literal["hrv", "sleep"]
    vendor: str
    reason: str
    part: dict[str, Any] = field(default_factory=dict)
    date: str | None = None


Mapped = tuple[str, dict[str, Any]] | Deletion | Refused


# --------------------------------------------------------------------------- retrying requests


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


def _error_code(response: httpx.Response) -> str | None:
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
    code = _error_code(response)
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

    def _delete(self, path: str) -> None:
        url = self.config.url(path)
        response = send(self._http, "DELETE", url, policy=self.policy, headers=self._headers())
        check(response, f"{self.config.name} DELETE {urlsplit(url).path}")


# --------------------------------------------------------------------------- OAuth2


def new_code_verifier() -> str:
    """RFC 7636 §4.1: 43–128 characters from the unreserved set; 64 random bytes give 86."""
    return secrets.token_urlsafe(64)


def code_challenge_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge): keep the verifier with the OAuth state, send the challenge."""
    verifier = new_code_verifier()
    return verifier, code_challenge_s256(verifier)


def authorization_url(
    config: VendorConfig, state: str, redirect_uri: str, code_challenge: str | None = None
) -> str:
    if len(state) < MIN_STATE_LENGTH:
        raise ValueError(f"OAuth state must be at least {MIN_STATE_LENGTH} characters")
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(config.scopes),
        "state": state,
        **config.extra_authorize_params,
    }
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    separator = "&" if urlsplit(config.authorize_url).query else "?"
    return config.authorize_url + separator + urlencode(params)


def _token_request(
    http: httpx.Client, config: VendorConfig, form: dict[str, str], policy: RetryPolicy, now: float | None
) -> tuple[TokenSet, bool]:
    """POST the grant; returns the tokens and whether the response carried a refresh token."""
    form = {**form, "client_id": config.client_id, "client_secret": config.client_secret}
    response = send(
        http,
        "POST",
        config.token_url,
        policy=policy,
        idempotent=False,
        data=form,
        headers={"Accept": "application/json"},
    )
    what = f"{config.name} token ({form['grant_type']})"
    if response.status_code >= 400:
        code = _error_code(response)
        if code == "invalid_grant":
            raise InvalidGrant(f"{what}: invalid_grant", status_code=response.status_code)
        raise VendorError(
            f"{what}: HTTP {response.status_code}" + (f" ({code})" if code else ""),
            status_code=response.status_code,
        )
    body = json_body(response, what)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("access_token"), str)
        or not body["access_token"]
    ):
        raise VendorError(f"{what}: no access_token in the response", status_code=response.status_code)
    token_type = body.get("token_type")
    if token_type is not None and str(token_type).lower() != "bearer":
        raise VendorError(f"{what}: unexpected token_type {token_type!r}")
    expires_at: float | None = None
    expires_in = body.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and math.isfinite(expires_in):
        expires_at = (time.time() if now is None else now) + float(expires_in)
    refresh_token = body.get("refresh_token")
    has_refresh = isinstance(refresh_token, str) and bool(refresh_token)
    scope = body.get("scope")
    tokens = TokenSet(
        access_token=body["access_token"],
        refresh_token=refresh_token if has_refresh else None,
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) else None,
    )
    return tokens, has_refresh


def exchange_code(
    http: httpx.Client,
    config: VendorConfig,
    code: str,
    redirect_uri: str,
    code_verifier: str | None = None,
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    now: float | None = None,
) -> TokenSet:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    tokens, _ = _token_request(http, config, form, policy, now)
    return tokens


def refresh(
    http: httpx.Client,
    config: VendorConfig,
    token: TokenSet,
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    now: float | None = None,
) -> TokenSet:
    """Refresh the access token. Store the result at once: with rotation the old refresh token is dead.

    A vendor that does not rotate (Google) sends no new refresh token; the old one is kept then.
    """
    if not token.refresh_token:
        raise InvalidGrant(f"{config.name}: no refresh token stored; the athlete must relink")
    form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
    if config.refresh_scope:
        form["scope"] = config.refresh_scope
    fresh, rotated = _token_request(http, config, form, policy, now)
    if rotated:
        return fresh
    return TokenSet(
        access_token=fresh.access_token,
        refresh_token=token.refresh_token,
        expires_at=fresh.expires_at,
        scope=fresh.scope or token.scope,
    )


# --------------------------------------------------------------------------- webhook helpers


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that works for plain dicts as well as Starlette's Headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def check_freshness(timestamp_s: float, now: float, tolerance_s: int) -> None:
    if not math.isfinite(timestamp_s):
        raise SignatureError("webhook timestamp is not a number")
    if now - timestamp_s > tolerance_s:
        raise SignatureError("webhook timestamp is too old")
    if timestamp_s - now > tolerance_s:
        raise SignatureError("webhook timestamp is in the future")


# --------------------------------------------------------------------------- mapping helpers


def require_mapping(record: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise MappingError(f"{what}: expected an object, got {type(record).__name__}")
    return record


def number(record: Mapping[str, Any], key: str, what: str, *, required: bool = False) -> float | None:
    """A finite, non-negative number or None; anything else is a malformed record."""
    value = record.get(key)
    if value is None:
        if required:
            raise MappingError(f"{what}: {key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError(f"{what}: {key} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise MappingError(f"{what}: {key} must be a finite non-negative number, got {value!r}")
    return float(value)


def text(record: Mapping[str, Any], key: str, what: str) -> str:
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise MappingError(f"{what}: {key} is missing or not a string")
    return value


def parse_instant(value: Any, what: str) -> datetime:
    """An ISO 8601 instant with an offset; a naive one cannot be placed on a calendar."""
    if not isinstance(value, str):
        raise MappingError(f"{what}: expected an ISO 8601 timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MappingError(f"{what}: {value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise MappingError(f"{what}: {value!r} has no UTC offset")
    return parsed


def parse_offset(value: Any, what: str) -> timezone:
    """``±HH:MM`` (or ``Z``) as a fixed offset."""
    if not isinstance(value, str):
        raise MappingError(f"{what}: timezone offset must be a string like -05:00")
    raw = value.strip()
    if raw in ("Z", "z"):
        return UTC
    sign = {"+": 1, "-": -1}.get(raw[:1])
    hours, _, minutes = raw[1:].partition(":")
    if sign is None or not hours.isdigit() or not (minutes.isdigit() or minutes == ""):
        raise MappingError(f"{what}: timezone offset {value!r} is not ±HH:MM")
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > timedelta(hours=14):
        raise MappingError(f"{what}: timezone offset {value!r} is out of range")
    return timezone(sign * delta)


def parse_day(value: Any, what: str) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise MappingError(f"{what}: day must be YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise MappingError(f"{what}: {value!r} is not a real date") from exc


def minutes(value: float | None, per_minute: float) -> float | None:
    return None if value is None else round(value / per_minute, 1)


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


# The local night a short sleep must touch to stand for the night rather than a nap.
NIGHT_STARTS = clock_time(22, 0)
NIGHT_ENDS = clock_time(6, 0)


def overlaps_night(start: datetime, end: datetime) -> bool:
    """Whether ``start..end`` (wall-clock times, naive or in one offset) touches a local night
    (22:00–06:00). Vendors file short sleeps the same whatever the hour, so this is what tells a
    short night (02:30–05:00 before an early flight) from an afternoon nap."""
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    day = start.date() - timedelta(days=1)
    while day <= end.date():
        night_starts = datetime.combine(day, NIGHT_STARTS)
        night_ends = datetime.combine(day + timedelta(days=1), NIGHT_ENDS)
        if start < night_ends and end > night_starts:
            return True
        day += timedelta(days=1)
    return False


def fields_of(record: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The vendor fields a payload is built from, as they came (for a refusal's ``part``)."""
    return {key: record[key] for key in keys if key in record}


def signal_part(
    signal: Literal["hrv", "sleep"],
    vendor: str,
    build: Callable[[], list[Mapped]],
    *,
    part: dict[str, Any],
    day: str | None,
) -> list[Mapped]:
    """Build one signal's payload on its own: a ``MappingError`` refuses that signal, not the record."""
    try:
        return build()
    except MappingError as exc:
        return [Refused(signal, vendor, str(exc), part, day)]
