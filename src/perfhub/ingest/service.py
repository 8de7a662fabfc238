"""The ingest stage: land a delivery in the raw log and announce it, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.bus import VENDOR_DATA_RECEIVED, publish
from perfhub.core.db import utcnow
from perfhub.core.errors import NotFound
from perfhub.ingest.models import RawEvent
from perfhub.ingest.schemas import HrvIn, SleepIn


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
    publish(
        session,
        VENDOR_DATA_RECEIVED,
        {"rawEventId": raw.id, "userId": user_id, "kind": kind, "vendor": vendor, "source": source},
        user_id=user_id,
    )
    return raw


def accept_batch(session: Session, readings: list[HrvIn | SleepIn], source: str = "api") -> int:
    """Accept many readings in one transaction: each is still its own delivery in the landing log."""
    wanted = {reading.user_id for reading in readings}
    known = set(session.scalars(select(User.id).where(User.id.in_(wanted))))
    missing = sorted(wanted - known)
    if missing:
        raise NotFound(f"no user with id {', '.join(map(str, missing[:10]))}")
    for reading in readings:
        accept_reading(session, reading, source, checked=True)
    return len(readings)


def accept_reading(
    session: Session, body: HrvIn | SleepIn, source: str = "api", *, checked: bool = False
) -> RawEvent:
    """Accept one canonical reading from the ingest API (or the demo seeder, which uses this path)."""
    if not checked and session.get(User, body.user_id) is None:
        raise NotFound(f"no user with id {body.user_id}")
    received_at = utcnow()
    payload = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    # A reading without its own capture time is versioned by when it reached us.
    payload.setdefault("capturedAt", received_at.isoformat())
    kind = "hrv" if isinstance(body, HrvIn) else "sleep"
    return land(
        session,
        source=source,
        kind=kind,
        vendor=body.vendor,
        user_id=body.user_id,
        payload=payload,
        received_at=received_at,
    )
