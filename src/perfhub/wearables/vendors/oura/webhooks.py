"""Oura webhooks: signature verification, event parsing, the subscription handshake and subscriptions."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from perfhub.readings.mapping import Deletion
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import MappingError, RecordNotFound, SignatureError, VendorError
from perfhub.wearables.vendors.http import DEFAULT_RETRY, RetryPolicy, check, json_body, send
from perfhub.wearables.vendors.oura.mapping import VENDOR
from perfhub.wearables.vendors.parsing import (
    parse_instant,
    require_mapping,
    text,
)
from perfhub.wearables.vendors.records import WebhookEvent
from perfhub.wearables.vendors.signing import check_freshness, header

EVENT_TYPES = ("create", "update", "delete")
WEBHOOK_DATA_TYPES = ("sleep", "daily_readiness", "workout")


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
    """A deleted sleep period takes its HRV and sleep rows with it, a deleted workout its workout;
    scores alone make no rows."""
    if event.event != "deleted":
        return []
    if event.kind == "workout":
        return [Deletion("workout", VENDOR, object_id=event.object_id)]
    if event.kind != "sleep":
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
