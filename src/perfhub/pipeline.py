"""Wires the pipeline stages to the bus: which consumer handles which subject."""

from __future__ import annotations

from perfhub.core.bus import VENDOR_DATA_RECEIVED, EmbeddedBus
from perfhub.normalize.service import CONSUMER as NORMALIZE
from perfhub.normalize.service import handle_received


def register_consumers(bus: EmbeddedBus) -> None:
    bus.subscribe(NORMALIZE, [VENDOR_DATA_RECEIVED], handle_received)
