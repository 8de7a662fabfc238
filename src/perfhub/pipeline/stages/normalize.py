"""The normalize stage: landed deliveries → canonical rows (:func:`perfhub.readings.service.normalize`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from perfhub.core.outbox import Event
from perfhub.pipeline.events import VendorDataReceived
from perfhub.readings.service import normalize
from perfhub.wearables.vendors.registry import ADAPTERS


def handle_received(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``vendor.data.received``: the whole batch in one bulk upsert per table."""
    raw_event_ids = [VendorDataReceived.from_payload(event.payload).raw_event_id for event in events]
    normalize(session, raw_event_ids, ADAPTERS)
