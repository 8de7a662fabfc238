"""Wires the pipeline stages to the bus: which consumer handles which subject."""

from __future__ import annotations

from perfhub.core.bus import DATA_NORMALIZED, VENDOR_DATA_RECEIVED, EmbeddedBus
from perfhub.insights.service import CONSUMER as INSIGHTS
from perfhub.insights.service import handle_normalized
from perfhub.normalize.service import CONSUMER as NORMALIZE
from perfhub.normalize.service import handle_received


def register_consumers(bus: EmbeddedBus) -> None:
    bus.subscribe(NORMALIZE, [VENDOR_DATA_RECEIVED], handle_received)
    # Readiness over a whole history is cheap per athlete; a larger batch means fewer recomputes.
    bus.subscribe(INSIGHTS, [DATA_NORMALIZED], handle_normalized, batch_size=500)
