"""Google Health's pure mapping: daily HRV and resting HR bundled per date, and the night's sleep session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from perfhub.readings.mapping import Mapped, Refused
from perfhub.wearables.vendors.errors import MappingError
from perfhub.wearables.vendors.parsing import (
    drop_none,
    iso,
    number,
    overlaps_night,
    parse_day,
    parse_instant,
    require_mapping,
    signal_part,
)

VENDOR = "google"

DAILY_HRV = "daily-heart-rate-variability"
DAILY_RESTING_HR = "daily-resting-heart-rate"
SLEEP = "sleep"
# Our own record kind: one date's daily HRV and resting HR data points, bundled by the client.
DAILY = "daily"
# Each data point nests its values under the camelCase data type name.
HRV_KEY = "dailyHeartRateVariability"
RESTING_HR_KEY = "dailyRestingHeartRate"
_PAYLOAD_KEY = {DAILY_HRV: HRV_KEY, DAILY_RESTING_HR: RESTING_HR_KEY, SLEEP: "sleep"}


def source_id(kind: str, record: Mapping[str, Any]) -> str | None:
    if kind == DAILY:
        day = record.get("date")
        return f"{DAILY}/{day}" if isinstance(day, str) else None
    name = record.get("name")
    return name if isinstance(name, str) else None


def _date(value: Any, what: str) -> date:
    """``google.type.Date`` (``{year, month, day}``) as the API sends it, or ``YYYY-MM-DD``."""
    if isinstance(value, str):
        return parse_day(value, what)
    parts = require_mapping(value, f"{what} date")
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise MappingError(f"{what}: date {dict(parts)!r} is not a full calendar date") from exc


def _values(point: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    """A data point's values: nested under the type's key as the API sends them, or flat."""
    return require_mapping(point.get(key, point), what)


def _int64(values: Mapping[str, Any], key: str, what: str) -> float | None:
    """Proto3 JSON sends int64 as a string ("52"); a plain number is accepted as well."""
    value = values.get(key)
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError as exc:
            raise MappingError(f"{what}: {key} {value!r} is not a number") from exc
        return number({key: parsed}, key, what)
    return number(values, key, what)


def _point_date(point: Mapping[str, Any], key: str) -> str | None:
    try:
        return _date(_values(point, key, "google point").get("date"), "google point").isoformat()
    except MappingError:
        return None


def daily_bundles(
    hrv_points: Sequence[Mapping[str, Any]], resting_points: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``daily`` records: per date, its ``daily-heart-rate-variability`` and ``daily-resting-heart-rate``
    data points under their own keys. A point whose date cannot be read gets a record of its own
    (without ``date``) so that ``map_records`` reports it; with several points of a type for one
    date (several devices), the first listed is used."""
    by_day: dict[str, dict[str, Any]] = {}
    unreadable: list[dict[str, Any]] = []
    for key, points in ((HRV_KEY, hrv_points), (RESTING_HR_KEY, resting_points)):
        for point in points:
            day = _point_date(point, key)
            if day is None:
                unreadable.append({key: dict(point)})
                continue
            by_day.setdefault(day, {"date": day}).setdefault(key, dict(point))
    return [by_day[day] for day in sorted(by_day)] + unreadable


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"fallback time zone {name!r} is not an IANA zone") from exc


def map_records(kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
    """Canonical ("hrv" | "sleep", payload) pairs, or ``Refused`` parts, for one Google record.

    ``daily``: a date's HRV and resting HR points → one HRV row, each point mapped on its own.
    ``sleep``: a sleep session → a sleep row (naps only when they are overnight, see ``main_sleeps``).
    ``daily-heart-rate-variability``: a single HRV point, as earlier versions landed them.

    Google gives daily values no capture instant, only the athlete's local ``date``; their
    ``capturedAt`` is the start of that date in ``tz_fallback``: never in the future, and stable
    across polls so that a re-fetched correction still replaces the day.
    """
    if kind == DAILY:
        return _map_daily(record, tz_fallback)
    if kind == SLEEP:
        return _map_sleep(record, tz_fallback)
    if kind == DAILY_HRV:
        point = require_mapping(record, "google data point")
        return _map_daily({"date": _point_date(point, HRV_KEY), HRV_KEY: point}, tz_fallback)
    raise MappingError(f"unsupported Google Health kind {kind!r}")


def _map_daily(record: Any, tz_fallback: str) -> list[Mapped]:
    bundle = require_mapping(record, "google daily record")
    points = {key: bundle[key] for key in (HRV_KEY, RESTING_HR_KEY) if bundle.get(key) is not None}
    names = " ".join(str(require_mapping(p, "google data point").get("name", "")) for p in points.values())
    what = f"google daily {bundle.get('date') or names}".rstrip()
    if bundle.get("date") is None:
        # Only a point whose own date is unreadable lands without one; reading it says why.
        for key, point in points.items():
            _date(_values(point, key, what).get("date"), what)
    day = _date(bundle.get("date"), what)
    captured = datetime.combine(day, time(0, 0), tzinfo=_zone(tz_fallback))
    values: dict[str, float] = {}
    refused: list[Mapped] = []
    for key, field, reader in (
        (HRV_KEY, "rMSSD", _rmssd),
        (RESTING_HR_KEY, "restingHr", _resting_hr),
    ):
        point = points.get(key)
        if point is None:
            continue
        point_what = f"google {key} {point.get('name', day.isoformat())}"
        try:
            value = reader(point, day, point_what)
        except MappingError as exc:
            refused.append(Refused("hrv", VENDOR, str(exc), {key: dict(point)}, day.isoformat()))
            continue
        if value is not None:
            values[field] = value
    if not values:
        return refused
    payload = {"date": day.isoformat(), **values, "vendor": VENDOR, "capturedAt": iso(captured)}
    return [("hrv", payload), *refused]


def _same_day(values: Mapping[str, Any], day: date, what: str) -> None:
    own = _date(values.get("date"), what)
    if own != day:
        raise MappingError(f"{what}: dated {own} inside the record of {day}")


def _rmssd(point: Mapping[str, Any], day: date, what: str) -> float | None:
    values = _values(point, HRV_KEY, what)
    _same_day(values, day, what)
    return number(values, "averageHeartRateVariabilityMilliseconds", what) or None


def _resting_hr(point: Mapping[str, Any], day: date, what: str) -> float | None:
    values = _values(point, RESTING_HR_KEY, what)
    _same_day(values, day, what)
    return _int64(values, "beatsPerMinute", what) or None


# --------------------------------------------------------------------------- sleep


SLEEP_FIELDS = ("minutesAsleep", "minutesInSleepPeriod", "minutesToFallAsleep")


def _duration_seconds(value: Any, what: str) -> float:
    """A ``google.protobuf.Duration`` as proto3 JSON sends it ("-18000s"), or plain seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            pass
    raise MappingError(f'{what}: UTC offset {value!r} is not a duration like "3600s"')


def _wake(sleep: Mapping[str, Any], tz_fallback: str, what: str) -> tuple[datetime, datetime, date]:
    """(start, end) instants on the wake clock, and the wake date.

    The wake date is Google's own ``civilEndTime`` date when present; otherwise the local date of
    ``endTime`` in ``endUtcOffset`` (the athlete's zone when Google gave none).
    """
    interval = require_mapping(sleep.get("interval"), f"{what} interval")
    end = parse_instant(interval.get("endTime"), f"{what} endTime")
    offset = interval.get("endUtcOffset")
    if offset is None:
        end = end.astimezone(_zone(tz_fallback))
    else:
        seconds = _duration_seconds(offset, what)
        if abs(seconds) > 14 * 3600:
            raise MappingError(f"{what}: UTC offset {offset!r} is out of range")
        end = end.astimezone(timezone(timedelta(seconds=seconds)))
    raw_start = interval.get("startTime")
    start = parse_instant(raw_start, f"{what} startTime").astimezone(end.tzinfo) if raw_start else end
    civil = interval.get("civilEndTime")
    day = _date(require_mapping(civil, f"{what} civilEndTime").get("date"), what) if civil else end.date()
    return start, end, day


def _metadata(sleep: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    meta = sleep.get("metadata")
    return {} if meta is None else require_mapping(meta, f"{what} metadata")


def _is_nap(sleep: Mapping[str, Any], what: str) -> bool:
    nap = _metadata(sleep, what).get("nap")
    if nap is not None and not isinstance(nap, bool):
        raise MappingError(f"{what}: metadata.nap must be true or false")
    return nap is True


def _counts_as_night(sleep: Mapping[str, Any], tz_fallback: str, what: str) -> bool:
    """A nap-flagged session counts only when it is overnight: Google flags short sessions without
    stages as naps, and a short night (02:30–05:00) would otherwise leave the day without sleep."""
    if not _is_nap(sleep, what):
        return True
    start, end, _ = _wake(sleep, tz_fallback, what)
    return overlaps_night(start, end)


def main_sleeps(points: Sequence[Mapping[str, Any]], tz_fallback: str = "UTC") -> list[dict[str, Any]]:
    """Per wake date, the session canonical rows come from: not a nap before an overnight nap,
    Google's ``mainSleep`` mark where a client sends it, then the most minutes asleep, then the
    later end. Daytime naps never compete, so a day with only a nap has no sleep row. A session
    that cannot be read is passed on for ``map_records`` to report."""
    best: dict[date, tuple[tuple[bool, bool, float, str], Mapping[str, Any]]] = {}
    unreadable: list[dict[str, Any]] = []
    for point in points:
        what = f"google sleep {point.get('name', '')}".rstrip()
        try:
            sleep = _values(point, "sleep", what)
            if not _counts_as_night(sleep, tz_fallback, what):
                continue
            _, end, day = _wake(sleep, tz_fallback, what)
            meta = _metadata(sleep, what)
            summary = sleep.get("summary")
            asleep = _int64(summary, "minutesAsleep", what) if isinstance(summary, Mapping) else None
        except MappingError:
            unreadable.append(dict(point))
            continue
        rank = (not _is_nap(sleep, what), meta.get("mainSleep") is True, asleep or 0.0, end.isoformat())
        if day not in best or rank > best[day][0]:
            best[day] = (rank, point)
    return [dict(best[day][1]) for day in sorted(best)] + unreadable


def _map_sleep(record: Any, tz_fallback: str) -> list[Mapped]:
    point = require_mapping(record, "google sleep point")
    what = f"google sleep {point.get('name', '')}".rstrip()
    sleep = _values(point, "sleep", what)
    if not _counts_as_night(sleep, tz_fallback, what):
        return []
    if _metadata(sleep, what).get("processed") is False:
        return []  # Google has not finished scoring it; a later poll brings the final session
    _, woke, day = _wake(sleep, tz_fallback, what)
    summary = sleep.get("summary")
    part = {"name": point.get("name"), "summary": summary}
    return signal_part(
        "sleep",
        VENDOR,
        lambda: _sleep_payload(summary, woke, day, what),
        part=drop_none(part),
        day=day.isoformat(),
    )


def _sleep_payload(summary: Any, woke: datetime, day: date, what: str) -> list[Mapped]:
    values = require_mapping(summary, f"{what} summary")
    asleep = _int64(values, "minutesAsleep", what)
    if asleep is None:
        raise MappingError(f"{what}: summary.minutesAsleep is missing")
    in_period = _int64(values, "minutesInSleepPeriod", what)
    if in_period is not None and in_period < asleep:
        raise MappingError(
            f"{what}: minutesInSleepPeriod {in_period:g} is shorter than minutesAsleep {asleep:g}"
        )
    # Google publishes no efficiency in v4: time asleep over time in the sleep period is the
    # textbook definition (and what Fitbit showed), so it is derived rather than left out.
    efficiency = round(asleep / in_period * 100, 1) if in_period else None
    # Google sends no wake count; the stage summary counts AWAKE segments, with short awakenings
    # listed apart, which is not the same thing: wakeCount stays absent rather than approximated.
    payload = {
        "date": day.isoformat(),
        "durationMin": asleep,
        "efficiencyPct": efficiency,
        "latencyMin": _int64(values, "minutesToFallAsleep", what),
        "inBedMin": in_period,
        "vendor": VENDOR,
        "capturedAt": iso(woke),
    }
    return [("sleep", drop_none(payload))]
