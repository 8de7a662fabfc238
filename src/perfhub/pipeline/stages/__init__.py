"""Which consumer handles which subject, per pipeline stage (one registry for both buses).

A stage is what ``perfhub worker STAGE`` runs; its consumers are thin: they parse the typed
events (:mod:`perfhub.pipeline.events`) and call the domain services.
"""

from __future__ import annotations

from perfhub.core.embedded_bus import EmbeddedBus
from perfhub.core.outbox import (
    BACKFILL_REQUESTED,
    DATA_NORMALIZED,
    INSIGHTS_UPDATED,
    VENDOR_DATA_RECEIVED,
    WEBHOOK_RECEIVED,
    ConsumerSpec,
)
from perfhub.pipeline.stages.alerts import handle_insights_updated
from perfhub.pipeline.stages.ingest import handle_backfill_requested, handle_webhook
from perfhub.pipeline.stages.normalize import handle_received
from perfhub.pipeline.stages.readiness import handle_normalized
from perfhub.readings.service import NORMALIZE_CONSUMER as NORMALIZE
from perfhub.wearables.backfill import CONSUMER as BACKFILL
from perfhub.wearables.webhooks import CONSUMER as INGEST

INSIGHTS = "insights"
ALERTS = "alerts"

# Every process relays the outbox rows it commits; the ingest stage also fetches from vendors:
# the records webhooks point at, and a new link's history, chunk by chunk. Alerts ride with
# insights: the same deployment's processes, no process of their own.
STAGES: dict[str, list[ConsumerSpec]] = {
    "ingest": [
        ConsumerSpec(INGEST, WEBHOOK_RECEIVED, handle_webhook),
        ConsumerSpec(BACKFILL, BACKFILL_REQUESTED, handle_backfill_requested),
    ],
    "normalize": [ConsumerSpec(NORMALIZE, VENDOR_DATA_RECEIVED, handle_received)],
    "insights": [
        ConsumerSpec(INSIGHTS, DATA_NORMALIZED, handle_normalized),
        ConsumerSpec(ALERTS, INSIGHTS_UPDATED, handle_insights_updated),
    ],
}
# Readiness over a whole history is cheap per athlete; a larger batch means fewer recomputes.
# One backfill chunk per transaction: a chunk holds SQLite's write lock while it fetches, and
# normalize and insights get their turn on each chunk before the next.
EMBEDDED_BATCH = {INSIGHTS: 500, ALERTS: 500, BACKFILL: 1}


def consumers(stages: list[str] | None = None) -> list[ConsumerSpec]:
    names = stages if stages is not None else list(STAGES)
    return [spec for name in names for spec in STAGES[name]]


def register_consumers(bus: EmbeddedBus) -> None:
    for spec in consumers():
        bus.subscribe(spec.name, [spec.subject], spec.handler, batch_size=EMBEDDED_BATCH.get(spec.name, 100))
