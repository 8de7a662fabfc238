"""What vendor modules hand the pipeline: verified notifications, deletions, refused parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


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


@dataclass(frozen=True)
class Deletion:
    """The vendor removed a record: the canonical ``kind`` row(s) that came from it must go or be superseded.

    ``object_id`` is the vendor record id the rows were mapped from and is authoritative when present
    (keep it with the landed raw event); ``date`` is set when the record itself told us its day.
    """

    kind: Literal["hrv", "sleep"]
    vendor: str
    object_id: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Refused:
    """One part of a vendor record that cannot become canonical, and why; the rest of the record maps.

    A vendor document carries several signals (a night's HRV and resting HR, its sleep, a vendor
    score); one inconsistent field must not cost the others. ``signal`` names the canonical payload
    the part would have fed (``"hrv"`` or ``"sleep"``), ``part`` the vendor's own fields it was built
    from, so that the dead letter the pipeline files for it shows what was refused.
    """

    signal: Literal["hrv", "sleep"]
    vendor: str
    reason: str
    part: dict[str, Any] = field(default_factory=dict)
    date: str | None = None


Mapped = tuple[str, dict[str, Any]] | Deletion | Refused
