"""Pure mapping from landed payloads to canonical daily rows (no I/O)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from perfhub.readings.schemas import HrvIn, SleepIn


class MappingError(ValueError):
    """The payload cannot become a canonical row; the reason goes to the dead-letter store."""


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
