"""What vendor modules hand the pipeline about a notification. What mapping a record gives
(canonical payloads, deletions, refused parts) is the canonical contract's vocabulary:
:mod:`perfhub.readings.mapping`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class WebhookEvent:
    """One verified vendor notification, reduced to what the pipeline needs to fetch the record."""

    vendor: str
    kind: str  # vendor data type: "sleep", "daily_readiness", "recovery", "workout", …
    object_id: str
    event: Literal["updated", "deleted"]
    vendor_user_id: str
    dedupe_key: str
    event_time: str | None = None
