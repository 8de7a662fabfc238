"""WHOOP webhooks: signature verification, event parsing and the deletions a notification implies."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from perfhub.readings.mapping import Deletion
from perfhub.wearables.vendors.errors import MappingError, SignatureError
from perfhub.wearables.vendors.parsing import (
    require_mapping,
    text,
)
from perfhub.wearables.vendors.records import WebhookEvent
from perfhub.wearables.vendors.signing import check_freshness, header
from perfhub.wearables.vendors.whoop.mapping import KINDS, VENDOR


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_webhook(
    headers: Mapping[str, str], raw_body: bytes, secret: str, now: float, tolerance_s: int = 300
) -> None:
    """Raise ``SignatureError`` unless the delivery is signed with ``secret`` (the client secret) and fresh.

    ``X-WHOOP-Signature-Timestamp`` is milliseconds; ``now`` and ``tolerance_s`` are seconds.
    """
    if not secret:
        raise SignatureError("no WHOOP client secret configured")
    provided = header(headers, "X-WHOOP-Signature")
    timestamp = header(headers, "X-WHOOP-Signature-Timestamp")
    if not provided or not timestamp:
        raise SignatureError("missing X-WHOOP-Signature or X-WHOOP-Signature-Timestamp")
    try:
        provided_digest = base64.b64decode(provided.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("X-WHOOP-Signature is not base64") from exc
    expected = hmac.new(
        secret.encode("utf-8"), timestamp.strip().encode("utf-8") + raw_body, hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, provided_digest):
        raise SignatureError("X-WHOOP-Signature does not match")
    try:
        sent_at_ms = float(timestamp)
    except ValueError as exc:
        raise SignatureError("X-WHOOP-Signature-Timestamp is not milliseconds since the epoch") from exc
    check_freshness(sent_at_ms / 1000.0, now, tolerance_s)


def dedupe_key(payload: Mapping[str, Any]) -> str:
    return f"{VENDOR}:{text(payload, 'trace_id', 'whoop webhook')}"


def parse_webhook(payload: Any) -> WebhookEvent:
    body = require_mapping(payload, "whoop webhook")
    what = "whoop webhook"
    kind, _, action = text(body, "type", what).partition(".")
    if kind not in KINDS or action not in ("updated", "deleted"):
        raise MappingError(f"{what}: unknown type {body.get('type')!r}")
    user_id = body.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, int | str) or user_id == "":
        raise MappingError(f"{what}: user_id is missing")
    return WebhookEvent(
        vendor=VENDOR,
        kind=kind,
        object_id=text(body, "id", what),
        event="deleted" if action == "deleted" else "updated",
        vendor_user_id=str(user_id),
        dedupe_key=dedupe_key(body),
    )


def deletions_for_event(event: WebhookEvent) -> list[Deletion]:
    """``sleep.deleted`` names the sleep; ``recovery.deleted`` names the sleep the recovery came from;
    ``workout.deleted`` the workout."""
    if event.event != "deleted":
        return []
    if event.kind == "sleep":
        return [Deletion("sleep", VENDOR, object_id=event.object_id)]
    if event.kind == "recovery":
        return [Deletion("hrv", VENDOR, object_id=event.object_id)]
    if event.kind == "workout":
        return [Deletion("workout", VENDOR, object_id=event.object_id)]
    return []
