"""Pure helpers for mapping vendor records: typed field reads, instants, offsets, days, the night window,
and the canonical workout payload every vendor's workouts become.

A malformed field raises ``MappingError``; ``signal_part`` confines one to the signal it feeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from datetime import time as clock_time
from typing import Any

from perfhub.readings.mapping import MAX_WORKOUT_MIN, Mapped, Refused, Signal
from perfhub.wearables.vendors.errors import MappingError


def require_mapping(record: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise MappingError(f"{what}: expected an object, got {type(record).__name__}")
    return record


def number(record: Mapping[str, Any], key: str, what: str, *, required: bool = False) -> float | None:
    """A finite, non-negative number or None; anything else is a malformed record."""
    value = record.get(key)
    if value is None:
        if required:
            raise MappingError(f"{what}: {key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError(f"{what}: {key} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise MappingError(f"{what}: {key} must be a finite non-negative number, got {value!r}")
    return float(value)


def text(record: Mapping[str, Any], key: str, what: str) -> str:
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise MappingError(f"{what}: {key} is missing or not a string")
    return value


def parse_instant(value: Any, what: str) -> datetime:
    """An ISO 8601 instant with an offset; a naive one cannot be placed on a calendar."""
    if not isinstance(value, str):
        raise MappingError(f"{what}: expected an ISO 8601 timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MappingError(f"{what}: {value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise MappingError(f"{what}: {value!r} has no UTC offset")
    return parsed


def parse_offset(value: Any, what: str) -> timezone:
    """``±HH:MM`` (or ``Z``) as a fixed offset."""
    if not isinstance(value, str):
        raise MappingError(f"{what}: timezone offset must be a string like -05:00")
    raw = value.strip()
    if raw in ("Z", "z"):
        return UTC
    sign = {"+": 1, "-": -1}.get(raw[:1])
    hours, _, minutes = raw[1:].partition(":")
    if sign is None or not hours.isdigit() or not (minutes.isdigit() or minutes == ""):
        raise MappingError(f"{what}: timezone offset {value!r} is not ±HH:MM")
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > timedelta(hours=14):
        raise MappingError(f"{what}: timezone offset {value!r} is out of range")
    return timezone(sign * delta)


def parse_day(value: Any, what: str) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise MappingError(f"{what}: day must be YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise MappingError(f"{what}: {value!r} is not a real date") from exc


def minutes(value: float | None, per_minute: float) -> float | None:
    return None if value is None else round(value / per_minute, 1)


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


# The local night a short sleep must touch to stand for the night rather than a nap.
NIGHT_STARTS = clock_time(22, 0)
NIGHT_ENDS = clock_time(6, 0)


def overlaps_night(start: datetime, end: datetime) -> bool:
    """Whether ``start..end`` (wall-clock times, naive or in one offset) touches a local night
    (22:00–06:00). Vendors file short sleeps the same whatever the hour, so this is what tells a
    short night (02:30–05:00 before an early flight) from an afternoon nap."""
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    day = start.date() - timedelta(days=1)
    while day <= end.date():
        night_starts = datetime.combine(day, NIGHT_STARTS)
        night_ends = datetime.combine(day + timedelta(days=1), NIGHT_ENDS)
        if start < night_ends and end > night_starts:
            return True
        day += timedelta(days=1)
    return False


def fields_of(record: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The vendor fields a payload is built from, as they came (for a refusal's ``part``)."""
    return {key: record[key] for key in keys if key in record}


def signal_part(
    signal: Signal,
    vendor: str,
    build: Callable[[], list[Mapped]],
    *,
    part: dict[str, Any],
    day: str | None,
) -> list[Mapped]:
    """Build one signal's payload on its own: a ``MappingError`` refuses that signal, not the record."""
    try:
        return build()
    except MappingError as exc:
        return [Refused(signal, vendor, str(exc), part, day)]


def workout_times(start_raw: Any, end_raw: Any, zone: tzinfo | None, what: str) -> tuple[datetime, datetime]:
    """A workout's start and end, on the clock it was recorded on (``zone``; None: the start's own
    offset). Missing or unreadable times, an end not after the start and a workout longer than a
    day (a watch left recording) raise ``MappingError``."""
    start = parse_instant(start_raw, f"{what} start")
    end = parse_instant(end_raw, f"{what} end")
    zone = zone or start.tzinfo
    start, end = start.astimezone(zone), end.astimezone(zone)
    if end <= start:
        raise MappingError(f"{what}: ends at {iso(end)}, not after it starts at {iso(start)}")
    if end - start > timedelta(minutes=MAX_WORKOUT_MIN):
        hours = (end - start).total_seconds() / 3600
        raise MappingError(f"{what}: lasts {hours:.1f} h, more than 24 h (a recording left running?)")
    return start, end


def workout_payload(
    vendor: str,
    vendor_id: str,
    start: datetime,
    end: datetime,
    sport: str,
    captured: datetime,
    **measures: float | str | None,
) -> list[Mapped]:
    """The canonical workout (the ingest body without ``userId``): dated by the local day of its
    start in the offset it was recorded in; measures the vendor did not give stay absent."""
    offset = start.utcoffset()
    payload: dict[str, Any] = {
        "vendorId": vendor_id,
        "date": start.date().isoformat(),
        "startAt": iso(start),
        "endAt": iso(end),
        "utcOffsetMin": None if offset is None else int(offset.total_seconds() // 60),
        "sport": sport.strip()[:60] or "workout",
        "durationMin": round((end - start).total_seconds() / 60, 1),
        **measures,
        "vendor": vendor,
        "capturedAt": iso(captured),
    }
    return [("workout", drop_none(payload))]
