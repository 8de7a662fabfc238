"""Which consumer handles which subject, per pipeline stage (one registry for both buses)."""

from __future__ import annotations

from perfhub.core.bus import DATA_NORMALIZED, VENDOR_DATA_RECEIVED, EmbeddedBus
from perfhub.core.jetstream import ConsumerSpec
from perfhub.insights.service import CONSUMER as INSIGHTS
from perfhub.insights.service import handle_normalized
from perfhub.normalize.service import CONSUMER as NORMALIZE
from perfhub.normalize.service import handle_received

# The ingest stage lands deliveries and relays the outbox; it has no bus subscription of its
# own until vendor fetch jobs exist. Every process relays the outbox rows it commits.
STAGES: dict[str, list[ConsumerSpec]] = {
    "ingest": [],
    "normalize": [ConsumerSpec(NORMALIZE, VENDOR_DATA_RECEIVED, handle_received)],
    "insights": [ConsumerSpec(INSIGHTS, DATA_NORMALIZED, handle_normalized)],
}
# Readiness over a whole history is cheap per athlete; a larger batch means fewer recomputes.
EMBEDDED_BATCH = {INSIGHTS: 500}


def consumers(stages: list[str] | None = None) -> list[ConsumerSpec]:
    names = stages if stages is not None else list(STAGES)
    return [spec for name in names for spec in STAGES[name]]


def register_consumers(bus: EmbeddedBus) -> None:
    for spec in consumers():
        bus.subscribe(spec.name, [spec.subject], spec.handler, batch_size=EMBEDDED_BATCH.get(spec.name, 100))
