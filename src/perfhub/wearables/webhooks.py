"""Vendor notifications: intake (verify, deduplicate, hand to the ingest stage) and the ingest stage
that fetches the referenced records and lands them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import utcnow
from perfhub.core.errors import BadRequest, NotFound, Unauthorized
from perfhub.core.limits import strict_json_loads
from perfhub.core.outbox import Event, PermanentError, dead_letter
from perfhub.pipeline.events import DataNormalized, WebhookReceived
from perfhub.pipeline.events import publish as publish_event
from perfhub.readings.mapping import Deletion
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily
from perfhub.readings.service import land, map_raw, remove_workouts
from perfhub.settings import Settings
from perfhub.wearables.models import VendorConnection, WebhookReceipt
from perfhub.wearables.service import access_token
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import (
    InvalidGrant,
    MappingError,
    RecordNotFound,
    SignatureError,
    VendorError,
)
from perfhub.wearables.vendors.records import WebhookEvent
from perfhub.wearables.vendors.registry import ADAPTERS, make_client, vendor_config

CONSUMER = "ingest"
log = logging.getLogger(__name__)


def apply_notification(session: Session, settings: Settings, received: WebhookReceived, event: Event) -> None:
    """Apply what a vendor notification says: deletions at once, changed records fetched and
    landed. ``event`` is the notification's delivery, for the dead letter if the vendor fails."""
    connection = session.get(VendorConnection, received.connection_id)
    if connection is None or connection.status != "linked":
        return  # unlinked since: ingest stopped at once
    vendor = connection.vendor
    config = vendor_config(settings, vendor)
    if config is None:
        raise PermanentError(f"{vendor} is no longer configured")
    user = session.get(User, connection.user_id)
    assert user is not None
    notice = WebhookEvent(
        vendor=vendor,
        kind=received.kind,
        object_id=received.object_id,
        event=received.event,
        vendor_user_id=connection.vendor_user_id or "",
        dedupe_key="",
        event_time=None,
    )
    removed: dict[str, set[date]] = {}
    for deletion in ADAPTERS[vendor].deletions_for_event(notice):
        if deletion.kind == "workout":
            # A workout is its own row, found by the vendor's id.
            ids = [deletion.object_id] if deletion.object_id else []
            removed.setdefault("workout", set()).update(remove_workouts(session, user.id, vendor, ids))
            continue
        # A deletion that names its day gives it as text; the others are found in the landing log.
        days = (
            {date.fromisoformat(deletion.date)}
            if deletion.date
            else days_from_source(session, user.id, vendor, deletion)
        )
        model = HrvDaily if deletion.kind == "hrv" else SleepDaily
        for day in days:
            session.execute(
                delete(model).where(model.user_id == user.id, model.vendor == vendor, model.date == day)
            )
        if days:
            removed.setdefault(deletion.kind, set()).update(days)
    records = _fetch(session, settings, connection, config, notice, event)
    for kind, record in records or ():
        land_record(session, vendor, kind, record, user)
    if records is not None:
        connection.last_sync_at = utcnow()
    removed = {kind: days for kind, days in removed.items() if days}
    if removed:
        days = set().union(*removed.values())
        publish_event(session, DataNormalized(user.id, tuple(sorted(removed)), tuple(sorted(days))))


def _fetch(
    session: Session,
    settings: Settings,
    connection: VendorConnection,
    config: VendorConfig,
    notice: WebhookEvent,
    event: Event,
) -> list[tuple[str, dict[str, Any]]] | None:
    """The records the notification names, or None when the vendor failed and the event was
    dead-lettered in this transaction (as reconciliation does, and for the same reason).

    The transaction commits either way: tokens refreshed before the failure must be kept, since
    a rotating vendor has already retired the old refresh token (rolling back would leave the
    next call a dead one and force a relink); likewise ``needs_relink`` after a refusal.
    """
    try:
        client = make_client(connection.vendor, access_token(session, settings, connection), config)
        return ADAPTERS[connection.vendor].fetch_for_event(client, notice)
    except RecordNotFound:
        return []
    except InvalidGrant as exc:
        reason = (
            f"{type(exc).__name__}: {connection.vendor} refused the refresh token: the athlete must relink"
        )
    except VendorError as exc:
        # The client's retry budget is spent; `perfhub dlq replay` fetches it again, and the
        # next reconciliation re-polls the last days anyway.
        reason = f"{type(exc).__name__}: {exc}"
    log.warning("webhook fetch for connection %s failed: %s", connection.id, reason)
    dead_letter(
        session,
        event.subject,
        dict(event.payload),
        reason,
        consumer=CONSUMER,
        user_id=connection.user_id,
        outbox_id=event.id,
        attempts=1,
        headers=event.headers,
    )
    return None


def land_record(
    session: Session, vendor: str, kind: str, record: dict[str, Any], user: User, source: str = "webhook"
) -> None:
    """Land one vendor record; its vendor id is kept so a later deletion can find its day."""
    land(
        session,
        source=source,
        kind=f"{vendor}.{kind}",
        vendor=vendor,
        user_id=user.id,
        payload={"record": record, "tz": user.tz, "sourceId": ADAPTERS[vendor].source_id(kind, record)},
    )


def days_from_source(session: Session, user_id: int, vendor: str, deletion: Deletion) -> set[date]:
    """The wake dates a deleted vendor record had produced, from the landing log."""
    days: set[date] = set()
    landed = session.scalars(select(RawEvent).where(RawEvent.user_id == user_id, RawEvent.vendor == vendor))
    for raw in landed:
        if raw.payload.get("sourceId") != deletion.object_id:
            continue
        try:
            days |= {row["date"] for kind, row in map_raw(raw, ADAPTERS) if kind == deletion.kind}
        except Exception:  # a record that never mapped produced no day to remove
            continue
    return days


# --------------------------------------------------------------------------- intake (POST /webhooks/{vendor})


def webhook_secret(settings: Settings, vendor: str) -> str:
    """The secret ``vendor`` signs deliveries with; 401 while it has none (nobody can sign then,
    so the route asks before it reads the body)."""
    config = vendor_config(settings, vendor)
    if config is None:
        raise Unauthorized(f"{vendor} is not configured")
    return config.client_secret


def read_delivery(
    settings: Settings, vendor: str, headers: Mapping[str, str], raw: bytes, secret: str, now: float
) -> WebhookEvent:
    """The delivery verified on its raw body, then parsed: 401 when it fails verification, 400
    when it cannot be read."""
    adapter = ADAPTERS[vendor]
    try:
        adapter.verify_webhook(headers, raw, secret, now, settings.webhook_tolerance_s)
        return adapter.parse_webhook(strict_json_loads(raw))
    except SignatureError as exc:
        raise Unauthorized(f"webhook rejected: {exc}") from exc
    except (ValueError, MappingError) as exc:
        raise BadRequest(f"unreadable notification: {exc}") from exc


def accept_delivery(session: Session, vendor: str, event: WebhookEvent) -> dict[str, str]:
    """Record the delivery once and ask the ingest stage to fetch what it names.

    ``{"status": …}``: ``accepted``; ``duplicate`` (delivered before: nothing is written);
    ``ignored`` (no athlete is linked to the vendor account it names).
    """
    try:
        with session.begin_nested():
            session.add(WebhookReceipt(vendor=vendor, dedupe_key=event.dedupe_key))
    except IntegrityError:
        return {"status": "duplicate"}
    connection = session.scalar(
        select(VendorConnection).where(
            VendorConnection.vendor == vendor,
            VendorConnection.vendor_user_id == str(event.vendor_user_id),
            VendorConnection.status == "linked",
        )
    )
    if connection is None:
        return {"status": "ignored", "reason": "no linked athlete"}
    publish_event(
        session,
        WebhookReceived(
            connection_id=connection.id,
            user_id=connection.user_id,
            vendor=vendor,
            kind=event.kind,
            object_id=event.object_id,
            event=event.event,
        ),
    )
    return {"status": "accepted"}


def answer_handshake(settings: Settings, vendor: str, query: Mapping[str, str]) -> dict[str, str]:
    """The answer to a vendor's subscription handshake (GET /webhooks/{vendor}): 404 for a vendor
    without one, 401 when its verification token does not match."""
    adapter = ADAPTERS[vendor]
    if not adapter.has_handshake:
        raise NotFound("no handshake for this vendor")
    answer = adapter.answer_handshake(query, settings)
    if answer is None:
        raise Unauthorized("verification token does not match")
    return answer
