"""The ingest stage: land a delivery in the raw log and announce it, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.bus import VENDOR_DATA_RECEIVED, publish, publish_many
from perfhub.core.db import one_of, utcnow
from perfhub.core.errors import NotFound
from perfhub.core.upsert import insert_rows
from perfhub.readings.models import RawEvent
from perfhub.readings.schemas import HrvIn, SleepIn


def land(
    session: Session,
    *,
    source: str,
    kind: str,
    vendor: str,
    user_id: int | None,
    payload: dict[str, Any],
    received_at: datetime | None = None,
) -> RawEvent:
    """Store a raw delivery and publish ``vendor.data.received`` for the normalize stage."""
    raw = RawEvent(
        source=source,
        kind=kind,
        vendor=vendor,
        user_id=user_id,
        payload=payload,
        received_at=received_at or utcnow(),
    )
    session.add(raw)
    session.flush()
    publish(session, VENDOR_DATA_RECEIVED, _announcement(raw), user_id=raw.user_id)
    return raw


def accept_batch(session: Session, readings: list[HrvIn | SleepIn], source: str = "api") -> int:
    """Accept many readings in one transaction: each is still its own delivery in the landing log."""
    users = cast(Table, User.__table__)
    wanted = {reading.user_id for reading in readings}
    known = set(
        session.scalars(select(users.c.id).where(one_of(users.c.id, wanted, session.get_bind().dialect.name)))
    )
    missing = sorted(wanted - known)
    if missing:
        raise NotFound(f"no user with id {', '.join(map(str, missing[:10]))}")
    received_at = utcnow()
    rows = [
        {
            "source": source,
            "kind": _kind(reading),
            "vendor": reading.vendor,
            "user_id": reading.user_id,
            "payload": _payload(reading, received_at),
            "received_at": received_at,
        }
        for reading in readings
    ]
    # One INSERT for the landing log, one for the outbox; no ORM objects to track.
    landed = insert_rows(
        session,
        cast(Table, RawEvent.__table__),
        rows,
        returning=("id", "user_id", "kind", "vendor", "source"),
    )
    # RETURNING has no set order, but ids are drawn in the readings' order: announce by id, so
    # the later of two readings for one day still wins a tie in the normalize stage.
    ordered = sorted(landed, key=lambda raw: raw.id)
    publish_many(session, VENDOR_DATA_RECEIVED, [(_announcement(raw), raw.user_id) for raw in ordered])
    return len(rows)


def _kind(reading: HrvIn | SleepIn) -> str:
    return "hrv" if isinstance(reading, HrvIn) else "sleep"


def _payload(reading: HrvIn | SleepIn, received_at: datetime) -> dict[str, Any]:
    payload = reading.model_dump(mode="json", by_alias=True, exclude_none=True)
    # A reading without its own capture time is versioned by when it reached us.
    payload.setdefault("capturedAt", received_at.isoformat())
    return payload


def _announcement(raw: RawEvent | Row[Any]) -> dict[str, Any]:
    return {
        "rawEventId": raw.id,
        "userId": raw.user_id,
        "kind": raw.kind,
        "vendor": raw.vendor,
        "source": raw.source,
    }


def accept_reading(
    session: Session, body: HrvIn | SleepIn, source: str = "api", *, checked: bool = False
) -> RawEvent:
    """Accept one canonical reading from the ingest API (or the demo seeder, which uses this path)."""
    if not checked and session.get(User, body.user_id) is None:
        raise NotFound(f"no user with id {body.user_id}")
    received_at = utcnow()
    return land(
        session,
        source=source,
        kind=_kind(body),
        vendor=body.vendor,
        user_id=body.user_id,
        payload=_payload(body, received_at),
        received_at=received_at,
    )
