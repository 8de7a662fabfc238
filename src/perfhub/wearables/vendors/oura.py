"""Oura API v2: OAuth config, webhook verification and subscriptions, data client, pure mapping.

Canonical rows come from the ``sleep`` document (one per sleep period): it carries the night's
rMSSD (``average_hrv``), resting HR (``lowest_heart_rate``), the readiness score and the sleep
durations. ``daily_readiness`` and ``daily_sleep`` carry scores only; their notifications are
answered by re-reading that day's main sleep period.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from perfhub.wearables.vendors.base import (
    DEFAULT_RETRY,
    ApiClient,
    Deletion,
    Mapped,
    MappingError,
    RecordNotFound,
    Refused,
    RetryPolicy,
    SignatureError,
    VendorConfig,
    VendorError,
    WebhookEvent,
    check,
    check_freshness,
    drop_none,
    fields_of,
    header,
    iso,
    json_body,
    minutes,
    number,
    overlaps_night,
    parse_day,
    parse_instant,
    require_mapping,
    send,
    signal_part,
    text,
)

VENDOR = "oura"
DEFAULT_AUTHORIZE_URL = "https://cloud.ouraring.com/oauth/authorize"
DEFAULT_TOKEN_URL = "https://api.ouraring.com/oauth/token"
DEFAULT_API_BASE = "https://api.ouraring.com"
SCOPES = ("email", "personal", "daily", "heartrate", "workout", "tag", "session", "spo2Daily")

KINDS = ("sleep", "daily_sleep", "daily_readiness")
MAIN_SLEEP_TYPES = frozenset({"long_sleep", "sleep"})
# A late nap ending after 18:00 is already filed by Oura under the next ``day``; either way naps
# never create or change a canonical day, so its date needs no special handling here. A short
# ``sleep`` outside the night window is a nap as well (see ``is_overnight``).
NAP_TYPES = frozenset({"late_nap", "rest"})
EVENT_TYPES = ("create", "update", "delete")
WEBHOOK_DATA_TYPES = ("sleep", "daily_readiness")


def config_from(
    client_id: str,
    client_secret: str,
    *,
    authorize_url: str | None = None,
    token_url: str | None = None,
    api_base: str | None = None,
    scopes: Sequence[str] | None = None,
    uses_pkce: bool = True,
) -> VendorConfig:
    """PKCE is unconfirmed at Oura: sending it is harmless (RFC 6749 §3.1 says servers ignore unknown
    parameters) and protects the code where it is honoured; pass ``uses_pkce=False`` to stop."""
    return VendorConfig(
        name=VENDOR,
        authorize_url=authorize_url or DEFAULT_AUTHORIZE_URL,
        token_url=token_url or DEFAULT_TOKEN_URL,
        api_base=api_base or DEFAULT_API_BASE,
        scopes=tuple(scopes or SCOPES),
        uses_pkce=uses_pkce,
        client_id=client_id,
        client_secret=client_secret,
    )


# --------------------------------------------------------------------------- webhooks


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + raw_body, hashlib.sha256)
    return digest.hexdigest().upper()


def verify_webhook(
    headers: Mapping[str, str], raw_body: bytes, secret: str, now: float, tolerance_s: int = 300
) -> None:
    """Raise ``SignatureError`` unless signed with ``secret`` (the client secret) and fresh."""
    if not secret:
        raise SignatureError("no Oura client secret configured")
    provided = header(headers, "x-oura-signature")
    timestamp = header(headers, "x-oura-timestamp")
    if not provided or not timestamp:
        raise SignatureError("missing x-oura-signature or x-oura-timestamp")
    expected = signature(secret, timestamp.strip(), raw_body)
    if not hmac.compare_digest(expected.encode(), provided.strip().upper().encode("utf-8", "replace")):
        raise SignatureError("x-oura-signature does not match")
    try:
        sent_at = float(timestamp)
    except ValueError as exc:
        raise SignatureError("x-oura-timestamp is not Unix seconds") from exc
    check_freshness(sent_at, now, tolerance_s)


def dedupe_key(payload: Mapping[str, Any]) -> str:
    """Oura sends no delivery id: the same change repeats with the same object, type and time."""
    what = "oura webhook"
    return ":".join(
        (
            VENDOR,
            text(payload, "object_id", what),
            text(payload, "event_type", what),
            text(payload, "data_type", what),
            text(payload, "event_time", what),
        )
    )


def parse_webhook(payload: Any) -> WebhookEvent:
    body = require_mapping(payload, "oura webhook")
    what = "oura webhook"
    event_type = text(body, "event_type", what)
    if event_type not in EVENT_TYPES:
        raise MappingError(f"{what}: unknown event_type {event_type!r}")
    return WebhookEvent(
        vendor=VENDOR,
        kind=text(body, "data_type", what),
        object_id=text(body, "object_id", what),
        event="deleted" if event_type == "delete" else "updated",
        vendor_user_id=text(body, "user_id", what),
        dedupe_key=dedupe_key(body),
        event_time=text(body, "event_time", what),
    )


def answer_challenge(query: Mapping[str, str], expected_token: str | None) -> dict[str, str] | None:
    """The subscription handshake: ``{"challenge": …}`` to answer 200 with, or None (answer 401)."""
    token = query.get("verification_token")
    challenge = query.get("challenge")
    if not expected_token or not token or not challenge:
        return None
    if not hmac.compare_digest(token.encode("utf-8", "replace"), expected_token.encode("utf-8", "replace")):
        return None
    return {"challenge": challenge}


def deletions_for_event(event: WebhookEvent) -> list[Deletion]:
    """A deleted sleep period takes its HRV and sleep rows with it; scores alone make no rows."""
    if event.event != "deleted" or event.kind != "sleep":
        return []
    return [
        Deletion("hrv", VENDOR, object_id=event.object_id),
        Deletion("sleep", VENDOR, object_id=event.object_id),
    ]


# --------------------------------------------------------------------------- subscriptions


@dataclass(frozen=True)
class Subscription:
    id: str
    callback_url: str
    event_type: str
    data_type: str
    expiration_time: str | None

    def expires_before(self, instant: datetime) -> bool:
        if not self.expiration_time:
            return True
        try:
            return parse_instant(self.expiration_time, "subscription") < instant
        except MappingError:
            return True

    @classmethod
    def from_json(cls, body: Any) -> Subscription:
        data = require_mapping(body, "oura subscription")
        try:
            return cls(
                id=str(data["id"]),
                callback_url=str(data["callback_url"]),
                event_type=str(data["event_type"]),
                data_type=str(data["data_type"]),
                expiration_time=data.get("expiration_time"),
            )
        except KeyError as exc:
            raise VendorError(f"oura subscription without {exc.args[0]}") from exc


def _app_headers(config: VendorConfig) -> dict[str, str]:
    return {
        "x-client-id": config.client_id,
        "x-client-secret": config.client_secret,
        "Accept": "application/json",
    }


def _subscription_call(
    http: httpx.Client,
    config: VendorConfig,
    method: str,
    path: str,
    policy: RetryPolicy,
    *,
    body: dict[str, str] | None = None,
    idempotent: bool = True,
) -> Any:
    what = f"oura {method} {path}"
    response = send(
        http,
        method,
        config.url(path),
        policy=policy,
        idempotent=idempotent,
        headers=_app_headers(config),
        json=body,
    )
    check(response, what)
    return None if response.status_code == 204 or not response.content else json_body(response, what)


def create_subscription(
    http: httpx.Client,
    config: VendorConfig,
    callback_url: str,
    verification_token: str,
    event_type: str,
    data_type: str,
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> Subscription:
    """Oura calls ``callback_url`` with the handshake before it answers, so the route must be live."""
    body = {
        "callback_url": callback_url,
        "verification_token": verification_token,
        "event_type": event_type,
        "data_type": data_type,
    }
    # Not repeated blindly: a lost response may already have created it (``ensure_subscriptions`` heals).
    return Subscription.from_json(
        _subscription_call(
            http, config, "POST", "/v2/webhook/subscription", policy, body=body, idempotent=False
        )
    )


def list_subscriptions(
    http: httpx.Client, config: VendorConfig, *, policy: RetryPolicy = DEFAULT_RETRY
) -> list[Subscription]:
    body = _subscription_call(http, config, "GET", "/v2/webhook/subscription", policy)
    items = body.get("data", []) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise VendorError("oura subscription list is not a list")
    return [Subscription.from_json(item) for item in items]


def renew_subscription(
    http: httpx.Client, config: VendorConfig, subscription_id: str, *, policy: RetryPolicy = DEFAULT_RETRY
) -> Subscription:
    path = f"/v2/webhook/subscription/renew/{quote(subscription_id, safe='')}"
    return Subscription.from_json(_subscription_call(http, config, "PUT", path, policy))


def delete_subscription(
    http: httpx.Client, config: VendorConfig, subscription_id: str, *, policy: RetryPolicy = DEFAULT_RETRY
) -> None:
    """Idempotent: an already deleted subscription is fine."""
    try:
        _subscription_call(
            http, config, "DELETE", f"/v2/webhook/subscription/{quote(subscription_id, safe='')}", policy
        )
    except RecordNotFound:
        return


def ensure_subscriptions(
    http: httpx.Client,
    config: VendorConfig,
    callback_url: str,
    verification_token: str,
    *,
    now: datetime,
    data_types: Sequence[str] = WEBHOOK_DATA_TYPES,
    event_types: Sequence[str] = EVENT_TYPES,
    renew_within: timedelta = timedelta(days=7),
    policy: RetryPolicy = DEFAULT_RETRY,
) -> list[Subscription]:
    """One subscription per (event_type, data_type) for ``callback_url``: create missing, renew expiring.

    Safe to run on every start and on a daily schedule.
    """
    existing = {
        (sub.event_type, sub.data_type): sub
        for sub in list_subscriptions(http, config, policy=policy)
        if sub.callback_url == callback_url
    }
    result: list[Subscription] = []
    for data_type in data_types:
        for event_type in event_types:
            sub = existing.get((event_type, data_type))
            if sub is None:
                sub = create_subscription(
                    http, config, callback_url, verification_token, event_type, data_type, policy=policy
                )
            elif sub.expires_before(now + renew_within):
                sub = renew_subscription(http, config, sub.id, policy=policy)
            result.append(sub)
    return result


# --------------------------------------------------------------------------- data client


class OuraClient(ApiClient):
    def __init__(
        self, http: httpx.Client, token: str, config: VendorConfig, *, policy: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        super().__init__(http, token, config, policy=policy)

    def get_record(self, kind: str, record_id: str) -> dict[str, Any]:
        _check_kind(kind)
        body = self._get(f"/v2/usercollection/{kind}/{quote(record_id, safe='')}")
        return dict(require_mapping(body, f"oura {kind} {record_id}"))

    def iter_records(self, kind: str, start: date, end: date) -> Iterator[dict[str, Any]]:
        """Records whose ``day`` is in ``start..end`` (both inclusive), each once, following next_token."""
        _check_kind(kind)
        # A date-only end_date can miss the last day (docs/vendors.md): ask one day more, filter below.
        params: dict[str, str | int] = {
            "start_date": start.isoformat(),
            "end_date": (end + timedelta(days=1)).isoformat(),
        }
        seen_ids: set[str] = set()
        seen_tokens: set[str] = set()
        while True:
            body = require_mapping(self._get(f"/v2/usercollection/{kind}", params), f"oura {kind} page")
            data = body.get("data")
            if not isinstance(data, list):
                raise VendorError(f"oura {kind} page without a data list")
            for item in data:
                if not isinstance(item, dict):
                    raise VendorError(f"oura {kind} page holds a non-object")
                record_id = str(item.get("id"))
                if record_id in seen_ids:
                    continue
                day = item.get("day")
                if isinstance(day, str) and not start.isoformat() <= day <= end.isoformat():
                    continue
                seen_ids.add(record_id)
                yield item
            next_token = body.get("next_token")
            if not next_token:
                return
            if next_token in seen_tokens:
                raise VendorError(f"oura {kind} paging repeats a next_token")
            seen_tokens.add(str(next_token))
            params["next_token"] = str(next_token)

    def list_records(self, kind: str, start: date, end: date) -> list[dict[str, Any]]:
        return list(self.iter_records(kind, start, end))

    def main_sleeps(self, start: date, end: date) -> list[dict[str, Any]]:
        """The one sleep document per day that canonical rows come from (reconciliation path)."""
        return main_sleeps(self.list_records("sleep", start, end))

    def personal_info(self) -> dict[str, Any]:
        return dict(require_mapping(self._get("/v2/usercollection/personal_info"), "oura personal_info"))

    def vendor_user_id(self) -> str:
        """The id webhooks name the athlete by; read it right after linking."""
        info = self.personal_info()
        try:
            return text(info, "id", "oura personal_info")
        except MappingError as exc:
            raise VendorError(str(exc)) from exc

    def fetch_for_event(self, event: WebhookEvent) -> list[tuple[str, dict[str, Any]]]:
        """(kind, record) pairs to hand to ``map_records`` for an ``updated`` notification.

        Any change to a day re-reads that day's sleep periods and returns the main one, so that a
        short period or a score update never overwrites the night with a partial record.
        ``RecordNotFound`` means the record went away since; its delete notification follows.
        """
        if event.event == "deleted" or event.kind not in KINDS:
            return []
        record = self.get_record(event.kind, event.object_id)
        day_raw = record.get("day")
        if not isinstance(day_raw, str):
            return [("sleep", record)] if event.kind == "sleep" else []
        day = parse_day(day_raw, f"oura {event.kind} {event.object_id}")
        main = [r for r in self.main_sleeps(day, day) if r.get("day") == day_raw]
        if main:
            return [("sleep", r) for r in main]
        if event.kind == "sleep" and record.get("type") == "deleted":
            return [("sleep", record)]
        return []


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown Oura collection {kind!r}; expected one of {KINDS}")


# --------------------------------------------------------------------------- pure mapping


def source_id(kind: str, record: Mapping[str, Any]) -> str | None:
    """The vendor id a later ``Deletion`` will name; keep it with the landed raw event."""
    value = record.get("id")
    return str(value) if value is not None else None


def is_overnight(doc: Mapping[str, Any]) -> bool:
    """Whether a sleep period lies, at least in part, in the local night (22:00–06:00 on the clock
    the ring showed on waking).

    Oura files periods under three hours as ``sleep`` whatever the time of day, so the type alone
    cannot tell a short night (02:30–05:00 before an early flight) from an afternoon nap. A short
    period stands for the night only when it overlaps that window; a daytime one is a nap, and
    naps never make or change a day. Raises ``MappingError`` when the times cannot be read.
    """
    what = f"oura sleep {doc.get('id')}"
    end = parse_instant(doc.get("bedtime_end"), f"{what} bedtime_end")
    if doc.get("bedtime_start") is not None:
        start = parse_instant(doc.get("bedtime_start"), f"{what} bedtime_start")
    else:
        span = number(doc, "time_in_bed", what) or number(doc, "total_sleep_duration", what) or 0.0
        start = end - timedelta(seconds=span)
    return overlaps_night(start.astimezone(end.tzinfo), end)


def _competes(record: Mapping[str, Any]) -> bool | None:
    """True when the period may be the day's main sleep, False for naps, None when unreadable."""
    sleep_type = record.get("type")
    if sleep_type == "long_sleep":
        return True
    if sleep_type != "sleep":
        return False
    try:
        return is_overnight(record)
    except MappingError:
        return None


def main_sleeps(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per ``day``, the sleep period canonical rows come from: a ``long_sleep`` before a short
    overnight ``sleep``, then the longest. Naps (``late_nap``, ``rest``, daytime ``sleep``) and
    deleted periods never compete, so a day with only a nap has no main sleep. Unreadable periods
    are passed on for ``map_records`` to report."""
    best: dict[str, Mapping[str, Any]] = {}
    unreadable: list[dict[str, Any]] = []
    for record in records:
        competes = _competes(record)
        if competes is False:
            continue
        day = record.get("day")
        if competes is None or not isinstance(day, str):
            unreadable.append(dict(record))
            continue
        if day not in best or _rank(record) > _rank(best[day]):
            best[day] = record
    return [dict(best[day]) for day in sorted(best)] + unreadable


def _rank(record: Mapping[str, Any]) -> tuple[bool, float, str]:
    duration = record.get("total_sleep_duration")
    seconds = float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else 0.0
    return record.get("type") == "long_sleep", seconds, str(record.get("bedtime_end") or "")


HRV_FIELDS = ("average_hrv", "lowest_heart_rate")
SLEEP_FIELDS = ("total_sleep_duration", "time_in_bed", "efficiency", "latency")


def map_records(kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
    """Canonical ("hrv" | "sleep", payload) pairs, ``Deletion`` markers or ``Refused`` parts for one
    Oura document.

    Payloads are the ingest API bodies without ``userId``. Only ``sleep`` documents make rows
    (``tz_fallback`` is unused: Oura timestamps carry the ring's offset); ``daily_readiness`` and
    ``daily_sleep`` hold scores without a signal the ingest contract accepts on its own.

    The night's HRV and resting HR and its sleep durations are mapped each on their own: Oura's
    sandbox, for one, serves periods whose ``time_in_bed`` is shorter than their
    ``total_sleep_duration``; such a sleep part is ``Refused`` while the HRV row still comes through.
    Only what every part needs (type, day, wake time) refuses the whole document (``MappingError``).
    A readiness score out of range is dropped from the HRV row, with a ``Refused`` saying so.
    """
    if kind in ("daily_readiness", "daily_sleep"):
        require_mapping(record, f"oura {kind}")
        return []
    if kind != "sleep":
        raise MappingError(f"unsupported Oura kind {kind!r}")
    doc = require_mapping(record, "oura sleep")
    record_id = source_id(kind, doc)
    what = f"oura sleep {record_id}"
    sleep_type = doc.get("type")
    if not isinstance(sleep_type, str):
        raise MappingError(f"{what}: type is missing")
    if sleep_type == "deleted":
        day = doc.get("day") if isinstance(doc.get("day"), str) else None
        return [
            Deletion("hrv", VENDOR, object_id=record_id, date=day),
            Deletion("sleep", VENDOR, object_id=record_id, date=day),
        ]
    if sleep_type in NAP_TYPES:
        return []
    if sleep_type not in MAIN_SLEEP_TYPES:
        raise MappingError(f"{what}: unknown sleep type {sleep_type!r}")
    if sleep_type == "sleep" and not is_overnight(doc):
        return []

    woke = parse_instant(doc.get("bedtime_end"), f"{what} bedtime_end")
    # ``day`` is Oura's own wake date in the ring's zone; the local date of bedtime_end is the same
    # thing when ``day`` is absent.
    day_iso = (
        parse_day(doc["day"], what).isoformat() if doc.get("day") is not None else woke.date().isoformat()
    )
    common = {"date": day_iso, "vendor": VENDOR, "capturedAt": iso(woke)}
    context = {"id": record_id, "day": day_iso}
    return [
        *signal_part(
            "hrv",
            VENDOR,
            lambda: _hrv(doc, common, what),
            part={**context, **fields_of(doc, HRV_FIELDS)},
            day=day_iso,
        ),
        *signal_part(
            "sleep",
            VENDOR,
            lambda: _sleep(doc, common, what),
            part={**context, **fields_of(doc, SLEEP_FIELDS)},
            day=day_iso,
        ),
    ]


def _hrv(doc: Mapping[str, Any], common: dict[str, Any], what: str) -> list[Mapped]:
    # Oura reports 0 rather than null when the ring saw no usable beats.
    rmssd = number(doc, "average_hrv", what) or None
    resting_hr = number(doc, "lowest_heart_rate", what) or None
    if rmssd is None and resting_hr is None:
        return []
    score, refused = _readiness_score(doc, what, common["date"])
    payload = drop_none({**common, "rMSSD": rmssd, "restingHr": resting_hr, "readinessScore": score})
    return [("hrv", payload), *refused]


def _readiness_score(doc: Mapping[str, Any], what: str, day: str) -> tuple[float | None, list[Mapped]]:
    """Oura's readiness score, or None with a ``Refused`` when it is unusable: it is a vendor score,
    not a signal, so a bad one never costs the night its HRV and resting HR."""
    readiness = doc.get("readiness")
    if readiness is None:
        return None, []
    try:
        score = number(require_mapping(readiness, f"{what} readiness"), "score", f"{what} readiness")
        if score is not None and score > 100:
            raise MappingError(f"{what}: readiness score {score} is above 100")
    except MappingError as exc:
        reason = f"{exc}; the HRV row is kept without a readiness score"
        return None, [Refused("hrv", VENDOR, reason, {"id": doc.get("id"), "readiness": readiness}, day)]
    return score, []


def _sleep(doc: Mapping[str, Any], common: dict[str, Any], what: str) -> list[Mapped]:
    asleep = number(doc, "total_sleep_duration", what)
    if asleep is None:
        return []
    in_bed = number(doc, "time_in_bed", what)
    efficiency = number(doc, "efficiency", what)
    if efficiency is not None and efficiency > 100:
        raise MappingError(f"{what}: efficiency {efficiency} is above 100")
    if in_bed is not None and in_bed < asleep:
        raise MappingError(f"{what}: time_in_bed {in_bed}s is shorter than total_sleep_duration {asleep}s")
    # restless_periods counts movement, not awakenings, so wakeCount stays unknown for Oura.
    sleep = {
        **common,
        "durationMin": minutes(asleep, 60),
        "efficiencyPct": efficiency,
        "latencyMin": minutes(number(doc, "latency", what), 60),
        "inBedMin": minutes(in_bed, 60),
    }
    return [("sleep", drop_none(sleep))]
