"""Oura's pure mapping: which sleep period stands for a night, and its canonical HRV and sleep rows.

Canonical rows come from the ``sleep`` document (one per sleep period): it carries the night's
rMSSD (``average_hrv``), resting HR (``lowest_heart_rate``), the readiness score and the sleep
durations. ``daily_readiness`` and ``daily_sleep`` carry scores only. A ``workout`` document is one
workout, with Oura's own word for its intensity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from perfhub.readings.mapping import Deletion, Mapped, Refused
from perfhub.wearables.vendors.errors import MappingError
from perfhub.wearables.vendors.parsing import (
    drop_none,
    fields_of,
    iso,
    minutes,
    number,
    overlaps_night,
    parse_day,
    parse_instant,
    require_mapping,
    signal_part,
    text,
    workout_payload,
    workout_times,
)

VENDOR = "oura"

KINDS = ("sleep", "daily_sleep", "daily_readiness", "workout")
WORKOUT_FIELDS = ("id", "activity", "day", "start_datetime", "end_datetime", "intensity", "source")
INTENSITIES = frozenset({"easy", "moderate", "hard"})
KJ_PER_KCAL = 4.184
MAIN_SLEEP_TYPES = frozenset({"long_sleep", "sleep"})
# A late nap ending after 18:00 is already filed by Oura under the next ``day``; either way naps
# never create or change a canonical day, so its date needs no special handling here. A short
# ``sleep`` outside the night window is a nap as well (see ``is_overnight``).
NAP_TYPES = frozenset({"late_nap", "rest"})


def source_id(kind: str, record: Mapping[str, Any]) -> str | None:
    """The vendor id a later ``Deletion`` will name; keep it with the landed raw event."""
    value = record.get("id")
    return str(value) if value is not None else None


def is_overnight(doc: Mapping[str, Any]) -> bool:
    """Whether a sleep period lies, at least in part, in the local night (22:00–06:00 on the clock
    the ring showed on waking).

    Oura files periods under three hours as ``sleep`` whatever the time of day, so the type alone
    cannot tell a short night (02:30–05:00 before an early flight) from an afternoon nap. A short
    period stands for the night only when it overlaps that window; a daytime one is a nap, and
    naps never make or change a day. Raises ``MappingError`` when the times cannot be read.
    """
    what = f"oura sleep {doc.get('id')}"
    end = parse_instant(doc.get("bedtime_end"), f"{what} bedtime_end")
    if doc.get("bedtime_start") is not None:
        start = parse_instant(doc.get("bedtime_start"), f"{what} bedtime_start")
    else:
        span = number(doc, "time_in_bed", what) or number(doc, "total_sleep_duration", what) or 0.0
        start = end - timedelta(seconds=span)
    return overlaps_night(start.astimezone(end.tzinfo), end)


def _competes(record: Mapping[str, Any]) -> bool | None:
    """True when the period may be the day's main sleep, False for naps, None when unreadable."""
    sleep_type = record.get("type")
    if sleep_type == "long_sleep":
        return True
    if sleep_type != "sleep":
        return False
    try:
        return is_overnight(record)
    except MappingError:
        return None


def main_sleeps(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per ``day``, the sleep period canonical rows come from: a ``long_sleep`` before a short
    overnight ``sleep``, then the longest. Naps (``late_nap``, ``rest``, daytime ``sleep``) and
    deleted periods never compete, so a day with only a nap has no main sleep. Unreadable periods
    are passed on for ``map_records`` to report."""
    best: dict[str, Mapping[str, Any]] = {}
    unreadable: list[dict[str, Any]] = []
    for record in records:
        competes = _competes(record)
        if competes is False:
            continue
        day = record.get("day")
        if competes is None or not isinstance(day, str):
            unreadable.append(dict(record))
            continue
        if day not in best or _rank(record) > _rank(best[day]):
            best[day] = record
    return [dict(best[day]) for day in sorted(best)] + unreadable


def _rank(record: Mapping[str, Any]) -> tuple[bool, float, str]:
    duration = record.get("total_sleep_duration")
    seconds = float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else 0.0
    return record.get("type") == "long_sleep", seconds, str(record.get("bedtime_end") or "")


HRV_FIELDS = ("average_hrv", "lowest_heart_rate")
SLEEP_FIELDS = ("total_sleep_duration", "time_in_bed", "efficiency", "latency")


def map_records(kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
    """Canonical ("hrv" | "sleep", payload) pairs, ``Deletion`` markers or ``Refused`` parts for one
    Oura document.

    Payloads are the ingest API bodies without ``userId``. Only ``sleep`` documents make rows
    (``tz_fallback`` is unused: Oura timestamps carry the ring's offset); ``daily_readiness`` and
    ``daily_sleep`` hold scores without a signal the ingest contract accepts on its own.

    The night's HRV and resting HR and its sleep durations are mapped each on their own: Oura's
    sandbox, for one, serves periods whose ``time_in_bed`` is shorter than their
    ``total_sleep_duration``; such a sleep part is ``Refused`` while the HRV row still comes through.
    Only what every part needs (type, day, wake time) refuses the whole document (``MappingError``).
    A readiness score out of range is dropped from the HRV row, with a ``Refused`` saying so.
    """
    if kind in ("daily_readiness", "daily_sleep"):
        require_mapping(record, f"oura {kind}")
        return []
    if kind == "workout":
        return _map_workout(record)
    if kind != "sleep":
        raise MappingError(f"unsupported Oura kind {kind!r}")
    doc = require_mapping(record, "oura sleep")
    record_id = source_id(kind, doc)
    what = f"oura sleep {record_id}"
    sleep_type = doc.get("type")
    if not isinstance(sleep_type, str):
        raise MappingError(f"{what}: type is missing")
    if sleep_type == "deleted":
        day = doc.get("day") if isinstance(doc.get("day"), str) else None
        return [
            Deletion("hrv", VENDOR, object_id=record_id, date=day),
            Deletion("sleep", VENDOR, object_id=record_id, date=day),
        ]
    if sleep_type in NAP_TYPES:
        return []
    if sleep_type not in MAIN_SLEEP_TYPES:
        raise MappingError(f"{what}: unknown sleep type {sleep_type!r}")
    if sleep_type == "sleep" and not is_overnight(doc):
        return []

    woke = parse_instant(doc.get("bedtime_end"), f"{what} bedtime_end")
    # ``day`` is Oura's own wake date in the ring's zone; the local date of bedtime_end is the same
    # thing when ``day`` is absent.
    day_iso = (
        parse_day(doc["day"], what).isoformat() if doc.get("day") is not None else woke.date().isoformat()
    )
    common = {"date": day_iso, "vendor": VENDOR, "capturedAt": iso(woke)}
    context = {"id": record_id, "day": day_iso}
    return [
        *signal_part(
            "hrv",
            VENDOR,
            lambda: _hrv(doc, common, what),
            part={**context, **fields_of(doc, HRV_FIELDS)},
            day=day_iso,
        ),
        *signal_part(
            "sleep",
            VENDOR,
            lambda: _sleep(doc, common, what),
            part={**context, **fields_of(doc, SLEEP_FIELDS)},
            day=day_iso,
        ),
    ]


def _hrv(doc: Mapping[str, Any], common: dict[str, Any], what: str) -> list[Mapped]:
    # Oura reports 0 rather than null when the ring saw no usable beats.
    rmssd = number(doc, "average_hrv", what) or None
    resting_hr = number(doc, "lowest_heart_rate", what) or None
    if rmssd is None and resting_hr is None:
        return []
    score, refused = _readiness_score(doc, what, common["date"])
    payload = drop_none({**common, "rMSSD": rmssd, "restingHr": resting_hr, "readinessScore": score})
    return [("hrv", payload), *refused]


def _readiness_score(doc: Mapping[str, Any], what: str, day: str) -> tuple[float | None, list[Mapped]]:
    """Oura's readiness score, or None with a ``Refused`` when it is unusable: it is a vendor score,
    not a signal, so a bad one never costs the night its HRV and resting HR."""
    readiness = doc.get("readiness")
    if readiness is None:
        return None, []
    try:
        score = number(require_mapping(readiness, f"{what} readiness"), "score", f"{what} readiness")
        if score is not None and score > 100:
            raise MappingError(f"{what}: readiness score {score} is above 100")
    except MappingError as exc:
        reason = f"{exc}; the HRV row is kept without a readiness score"
        return None, [Refused("hrv", VENDOR, reason, {"id": doc.get("id"), "readiness": readiness}, day)]
    return score, []


def _sleep(doc: Mapping[str, Any], common: dict[str, Any], what: str) -> list[Mapped]:
    asleep = number(doc, "total_sleep_duration", what)
    if asleep is None:
        return []
    in_bed = number(doc, "time_in_bed", what)
    efficiency = number(doc, "efficiency", what)
    if efficiency is not None and efficiency > 100:
        raise MappingError(f"{what}: efficiency {efficiency} is above 100")
    if in_bed is not None and in_bed < asleep:
        raise MappingError(f"{what}: time_in_bed {in_bed}s is shorter than total_sleep_duration {asleep}s")
    # restless_periods counts movement, not awakenings, so wakeCount stays unknown for Oura.
    sleep = {
        **common,
        "durationMin": minutes(asleep, 60),
        "efficiencyPct": efficiency,
        "latencyMin": minutes(number(doc, "latency", what), 60),
        "inBedMin": minutes(in_bed, 60),
    }
    return [("sleep", drop_none(sleep))]


def _map_workout(record: Any) -> list[Mapped]:
    doc = require_mapping(record, "oura workout")
    what = f"oura workout {doc.get('id')}"
    day = doc.get("day") if isinstance(doc.get("day"), str) else None
    return signal_part(
        "workout",
        VENDOR,
        lambda: _workout(doc, what),
        part=drop_none(fields_of(doc, WORKOUT_FIELDS)),
        day=day,
    )


def _workout(doc: Mapping[str, Any], what: str) -> list[Mapped]:
    """One workout; its times carry the ring's offset, so its day is the local day of its start
    (Oura's own ``day`` is the same day, but is not what the canonical date is read from)."""
    vendor_id = text(doc, "id", what)
    start, end = workout_times(doc.get("start_datetime"), doc.get("end_datetime"), None, what)
    intensity = doc.get("intensity")
    if intensity is not None and intensity not in INTENSITIES:
        raise MappingError(f"{what}: unknown intensity {intensity!r}")
    calories = number(doc, "calories", what)
    # Oura has no edit time; a re-read record has the same end, and an equal capture replaces.
    return workout_payload(
        VENDOR,
        vendor_id,
        start,
        end,
        text(doc, "activity", what),
        end,
        intensity=intensity,
        energyKj=None if calories is None else round(calories * KJ_PER_KCAL, 1),
        distanceM=number(doc, "distance", what),
    )
