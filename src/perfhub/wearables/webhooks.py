"""The ingest stage for vendor notifications: fetch the referenced records and land them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.bus import DATA_NORMALIZED, Event, PermanentError, dead_letter, publish
from perfhub.core.db import utcnow
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.readings.service import land
from perfhub.settings import Settings, get_settings
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.service import access_token
from perfhub.wearables.vendors import base
from perfhub.wearables.vendors.registry import MODULES, make_client, vendor_config

CONSUMER = "ingest"
log = logging.getLogger(__name__)


def handle_webhook(session: Session, events: Sequence[Event]) -> None:
    settings = get_settings()
    for event in events:
        connection = session.get(VendorConnection, event.payload["connectionId"])
        if connection is None or connection.status != "linked":
            continue  # unlinked since: ingest stopped at once
        vendor = connection.vendor
        config = vendor_config(settings, vendor)
        if config is None:
            raise PermanentError(f"{vendor} is no longer configured")
        user = session.get(User, connection.user_id)
        assert user is not None
        notice = base.WebhookEvent(
            vendor=vendor,
            kind=event.payload["kind"],
            object_id=str(event.payload["objectId"]),
            event=event.payload["event"],
            vendor_user_id=connection.vendor_user_id or "",
            dedupe_key="",
            event_time=None,
        )
        removed: set[date] = set()
        for deletion in MODULES[vendor].deletions_for_event(notice):
            days = {deletion.date} if deletion.date else days_from_source(session, user.id, vendor, deletion)
            model = HrvDaily if deletion.kind == "hrv" else SleepDaily
            for day in days:
                session.execute(
                    delete(model).where(model.user_id == user.id, model.vendor == vendor, model.date == day)
                )
            removed |= days
        records = _fetch(session, settings, connection, config, notice, event)
        for kind, record in records or ():
            land_record(session, vendor, kind, record, user)
        if records is not None:
            connection.last_sync_at = utcnow()
        if removed:
            publish(
                session,
                DATA_NORMALIZED,
                {
                    "userId": user.id,
                    "signals": ["hrv", "sleep"],
                    "dates": sorted(d.isoformat() for d in removed),
                },
                user_id=user.id,
            )


def _fetch(
    session: Session,
    settings: Settings,
    connection: VendorConnection,
    config: base.VendorConfig,
    notice: base.WebhookEvent,
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
        return list(client.fetch_for_event(notice))  # type: ignore[attr-defined]
    except base.RecordNotFound:
        return []
    except base.InvalidGrant as exc:
        reason = (
            f"{type(exc).__name__}: {connection.vendor} refused the refresh token: the athlete must relink"
        )
    except base.VendorError as exc:
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
        payload={"record": record, "tz": user.tz, "sourceId": MODULES[vendor].source_id(kind, record)},
    )


def days_from_source(session: Session, user_id: int, vendor: str, deletion: base.Deletion) -> set[date]:
    """The wake dates a deleted vendor record had produced, from the landing log."""
    from perfhub.readings.models import RawEvent
    from perfhub.readings.normalize import map_raw

    days: set[date] = set()
    landed = session.scalars(select(RawEvent).where(RawEvent.user_id == user_id, RawEvent.vendor == vendor))
    for raw in landed:
        if raw.payload.get("sourceId") != deletion.object_id:
            continue
        try:
            days |= {row["date"] for kind, row in map_raw(raw) if kind == deletion.kind}
        except Exception:  # a record that never mapped produced no day to remove
            continue
    return days
