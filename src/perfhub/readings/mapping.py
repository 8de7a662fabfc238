"""Pure mapping from landed payloads to canonical rows (no I/O): daily HRV and sleep, and workouts.

Also the vocabulary a vendor's own mapping answers in (:data:`Mapped`: canonical payloads,
:class:`Deletion`, :class:`Refused`) and the seam through which normalisation reaches it
(:class:`RecordMapper`): the wearables domain implements it, readings never imports wearables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import Field, StrictInt, ValidationError, model_validator

from perfhub.readings.schemas import HrvIn, Number, SleepIn, Text, _IngestBody

# What a canonical payload feeds: the two daily signals, and a workout (one row per vendor record).
Signal = Literal["hrv", "sleep", "workout"]


class MappingError(ValueError):
    """A payload or vendor record cannot become a canonical row; the reason goes to the
    dead-letter store."""


@dataclass(frozen=True)
class Deletion:
    """The vendor removed a record: the canonical ``kind`` row(s) that came from it must go or be superseded.

    ``object_id`` is the vendor record id the rows were mapped from and is authoritative when present
    (keep it with the landed raw event); ``date`` is set when the record itself told us its day.
    """

    kind: Signal
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

    signal: Signal
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


def _validated(
    model: type[HrvIn] | type[SleepIn] | type[WorkoutIn], payload: dict[str, Any]
) -> HrvIn | SleepIn | WorkoutIn:
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


# A workout longer than a day is a watch left recording, not a session.
MAX_WORKOUT_MIN = 24 * 60
INTENSITIES = ("easy", "moderate", "hard")


class WorkoutIn(_IngestBody):
    """A workout as the vendor mappings hand it over (API names, like the ingest bodies).

    ``date`` is the local day of ``startAt`` in the offset it was recorded in; ``capturedAt``
    versions the record (a newer one replaces the row). ``strain`` is WHOOP's (0–21),
    ``intensity`` Oura's own word for the effort.
    """

    vendor_id: Text = Field(alias="vendorId", min_length=1, max_length=128)
    start_at: datetime = Field(alias="startAt")
    end_at: datetime = Field(alias="endAt")
    utc_offset_min: StrictInt | None = Field(default=None, alias="utcOffsetMin", ge=-14 * 60, le=14 * 60)
    sport: Text = Field(min_length=1, max_length=60)
    duration_min: Number = Field(alias="durationMin", gt=0, le=MAX_WORKOUT_MIN)
    strain: Number | None = Field(default=None, ge=0, le=21)
    intensity: Literal["easy", "moderate", "hard"] | None = None
    average_hr: Number | None = Field(default=None, alias="averageHr", ge=25, le=250)
    energy_kj: Number | None = Field(default=None, alias="energyKj", ge=0, le=100_000)
    distance_m: Number | None = Field(default=None, alias="distanceM", ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> WorkoutIn:
        if self.start_at.tzinfo is None or self.end_at.tzinfo is None:
            raise ValueError("startAt and endAt need a UTC offset")
        span = self.end_at - self.start_at
        if span <= timedelta(0):
            raise ValueError("endAt is not after startAt")
        if span > timedelta(minutes=MAX_WORKOUT_MIN):
            raise ValueError("the workout lasts more than 24 hours")
        if self.start_at.date() != self.date:
            raise ValueError(f"date {self.date} is not the local day of startAt {self.start_at.isoformat()}")
        return self


def workout_row(payload: dict[str, Any]) -> dict[str, Any]:
    body = _validated(WorkoutIn, payload)
    assert isinstance(body, WorkoutIn)
    offset = body.start_at.utcoffset()
    return {
        "user_id": body.user_id,
        "vendor": body.vendor,
        "vendor_id": body.vendor_id,
        "date": body.date,
        "start_at": body.start_at,
        "end_at": body.end_at,
        "utc_offset_min": (
            body.utc_offset_min
            if body.utc_offset_min is not None
            else (None if offset is None else int(offset.total_seconds() // 60))
        ),
        "sport": body.sport,
        "duration_min": body.duration_min,
        "strain": body.strain,
        "intensity": body.intensity,
        "average_hr": body.average_hr,
        "energy_kj": body.energy_kj,
        "distance_m": body.distance_m,
        "source_device": body.source_device,
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
