"""Pure mapping from landed payloads to canonical daily rows (no I/O).

Also the vocabulary a vendor's own mapping answers in (:data:`Mapped`: canonical payloads,
:class:`Deletion`, :class:`Refused`) and the seam through which normalisation reaches it
(:class:`RecordMapper`): the wearables domain implements it, readings never imports wearables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from perfhub.readings.schemas import HrvIn, SleepIn


class MappingError(ValueError):
    """A payload or vendor record cannot become a canonical row; the reason goes to the
    dead-letter store."""


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


class RecordMapper(Protocol):
    """A vendor's pure mapping of one of its records (kind ``vendor.record_kind`` in the landing
    log) to canonical payloads; ``tz_fallback`` is the athlete's zone for records without one."""

    def map_records(self, kind: str, record: Any, tz_fallback: str) -> list[Mapped]: ...


RecordMappers = Mapping[str, RecordMapper]


def _validated(model: type[HrvIn] | type[SleepIn], payload: dict[str, Any]) -> HrvIn | SleepIn:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise MappingError(f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}") from exc


def hrv_row(payload: dict[str, Any]) -> dict[str, Any]:
    body = _validated(HrvIn, payload)
    assert isinstance(body, HrvIn)
    rmssd = (
        body.rmssd
        if body.rmssd is not None
        else (math.exp(body.ln_rmssd) if body.ln_rmssd is not None else None)
    )
    return {
        "user_id": body.user_id,
        "date": body.date,
        "vendor": body.vendor,
        "rmssd_ms": rmssd,
        "ln_rmssd": math.log(rmssd) if rmssd is not None else None,
        "sdnn_ms": body.sdnn,
        "resting_hr": body.resting_hr,
        "readiness_score": body.readiness_score,
        "vendor_calibrating": body.vendor_calibrating,
        "source_device": body.source_device,
        "captured_at": _captured(body.captured_at, payload),
    }


def sleep_row(payload: dict[str, Any]) -> dict[str, Any]:
    body = _validated(SleepIn, payload)
    assert isinstance(body, SleepIn)
    return {
        "user_id": body.user_id,
        "date": body.date,
        "vendor": body.vendor,
        "duration_min": body.duration_min,
        "efficiency_pct": body.efficiency_pct,
        "latency_min": body.latency_min,
        "wake_count": body.wake_count,
        "in_bed_min": body.in_bed_min,
        "captured_at": _captured(body.captured_at, payload),
    }


def _captured(value: datetime | None, payload: dict[str, Any]) -> datetime:
    if value is None:
        raise MappingError("capturedAt missing from landed payload")
    return value


def source_rank(priority: tuple[str, ...] | list[str], vendor: str) -> tuple[int, str]:
    """Sort key of a source: the athlete's priority order, unlisted vendors after it by name."""
    return (priority.index(vendor) if vendor in priority else len(priority), vendor)


def pick_by_priority(rows_by_vendor: dict[str, Any], priority: tuple[str, ...] | list[str]) -> Any:
    """The winning source for one day and signal: first in the athlete's priority list."""
    return rows_by_vendor[min(rows_by_vendor, key=lambda vendor: source_rank(priority, vendor))]


def day_key(row: dict[str, Any]) -> tuple[int, date]:
    return row["user_id"], row["date"]
