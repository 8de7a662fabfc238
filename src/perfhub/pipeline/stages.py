"""Which consumer handles which subject, per pipeline stage (one registry for both buses)."""

from __future__ import annotations

from perfhub.core.bus import (
    BACKFILL_REQUESTED,
    DATA_NORMALIZED,
    VENDOR_DATA_RECEIVED,
    WEBHOOK_RECEIVED,
    EmbeddedBus,
)
from perfhub.core.jetstream import ConsumerSpec
from perfhub.readiness.service import CONSUMER as INSIGHTS
from perfhub.readiness.service import handle_normalized
from perfhub.readings.normalize import CONSUMER as NORMALIZE
from perfhub.readings.normalize import handle_received
from perfhub.wearables.backfill import CONSUMER as BACKFILL
from perfhub.wearables.backfill import handle_backfill_requested
from perfhub.wearables.webhooks import CONSUMER as INGEST
from perfhub.wearables.webhooks import handle_webhook

# Every process relays the outbox rows it commits; the ingest stage also fetches from vendors:
# the records webhooks point at, and a new link's history, chunk by chunk.
STAGES: dict[str, list[ConsumerSpec]] = {
    "ingest": [
        ConsumerSpec(INGEST, WEBHOOK_RECEIVED, handle_webhook),
        ConsumerSpec(BACKFILL, BACKFILL_REQUESTED, handle_backfill_requested),
    ],
    "normalize": [ConsumerSpec(NORMALIZE, VENDOR_DATA_RECEIVED, handle_received)],
    "insights": [ConsumerSpec(INSIGHTS, DATA_NORMALIZED, handle_normalized)],
}
# Readiness over a whole history is cheap per athlete; a larger batch means fewer recomputes.
# One backfill chunk per transaction: a chunk holds SQLite's write lock while it fetches, and
# normalize and insights get their turn on each chunk before the next.
EMBEDDED_BATCH = {INSIGHTS: 500, BACKFILL: 1}


def consumers(stages: list[str] | None = None) -> list[ConsumerSpec]:
    names = stages if stages is not None else list(STAGES)
    return [spec for name in names for spec in STAGES[name]]


def register_consumers(bus: EmbeddedBus) -> None:
    for spec in consumers():
        bus.subscribe(spec.name, [spec.subject], spec.handler, batch_size=EMBEDDED_BATCH.get(spec.name, 100))
