"""Apple Health ``Workout`` elements: read from their tags, checked, and made canonical workouts.

A workout is one start tag (``workoutActivityType``, ``duration``, ``totalDistance``,
``totalEnergyBurned``, ``sourceName``, ``startDate``, ``endDate``), and in newer exports a
``WorkoutStatistics`` child of type ``HKQuantityTypeIdentifierHeartRate`` with the ``average``
heart rate. Children come after their workout's start tag and nowhere else, so the scanner hands
a statistics tag over on its own and it belongs to the workout read last.

A workout that cannot be read (no or unreadable times, an end not after the start, no time spent
or more than a day, a date outside what is stored) is skipped with its reason, as broken records
are. Apple gives workouts no id: the source, activity and start stand for one, so importing the
same export again updates the same rows.

Pure: no database, no HTTP.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from perfhub.wearables.apple.attributes import Broken, attribute_value, split_attributes
from perfhub.wearables.apple.errors import quoted, shown
from perfhub.wearables.apple.records import parse_when

WORKOUT_TYPE_PREFIX = "HKWorkoutActivityType"
HEART_RATE_TYPE = b"HKQuantityTypeIdentifierHeartRate"
VENDOR = "apple"
MAX_SOURCE_CHARS = 200
MAX_SPORT_CHARS = 60
# Workouts kept per import: ten a day for 27 years. Each is a few hundred bytes; past this a file
# is not an athlete's, and the rest are skipped (counted) rather than held.
MAX_WORKOUTS = 100_000
MAX_WORKOUT = timedelta(hours=24)
EARLIEST_DATE = date(2000, 1, 1)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_MINUTES_PER = {"min": 1.0, "s": 1 / 60, "sec": 1 / 60, "ms": 1 / 60_000, "hr": 60.0, "h": 60.0}
_METRES_PER = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "yd": 0.9144, "ft": 0.3048, "cm": 0.01}
_KJ_PER = {"kJ": 1.0, "kcal": 4.184, "Cal": 4.184, "cal": 0.004184}


@dataclass(frozen=True, slots=True)
class AppleWorkout:
    activity: str  # the HKWorkoutActivityType… name
    source_name: str
    start: datetime  # aware, in the workout's own UTC offset
    end: datetime
    duration_min: float | None  # Apple's active time, pauses left out
    distance_m: float | None
    energy_kj: float | None
    line: int
    average_hr: float | None = None


@dataclass(frozen=True, slots=True)
class WorkoutHeartRate:
    """A ``WorkoutStatistics`` heart-rate child: the average of the workout read last."""

    average: float | None
    start: datetime | None
    line: int


class InvalidWorkout:
    """A workout that cannot be read; counted as skipped."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def sport_name(activity: str) -> str:
    """``HKWorkoutActivityTypeTraditionalStrengthTraining`` → ``traditional strength training``."""
    name = activity[len(WORKOUT_TYPE_PREFIX) :] if activity.startswith(WORKOUT_TYPE_PREFIX) else activity
    return (_CAMEL.sub(" ", name).lower().strip() or "workout")[:MAX_SPORT_CHARS]


def _text(raw: bytes) -> dict[bytes, str]:
    return {key: attribute_value(value) for key, value in split_attributes(raw).items()}


def _amount(value: str | None, unit: str | None, per: dict[str, float], what: str) -> float | None:
    """A total in the canonical unit; None when absent. Raises ValueError for an unreadable one."""
    if value is None or value.strip() == "":
        return None
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{what} {quoted(value)} is not a non-negative number")
    factor = per.get((unit or "").strip())
    if factor is None:
        raise ValueError(f"{what} unit {quoted(unit)} is not one perfhub reads")
    return number * factor


def read_workout(raw: bytes, zone: ZoneInfo | timezone, line: int) -> AppleWorkout | InvalidWorkout:
    """The workout of a ``Workout`` start tag whose attributes are ``raw``."""
    where = f"workout at line {line}"
    try:
        text = _text(raw)
    except Broken as exc:
        return InvalidWorkout(f"{where}: {exc}")
    activity = text.get(b"workoutActivityType", "")
    source = (text.get(b"sourceName") or "unknown source")[:MAX_SOURCE_CHARS]
    where = f"{where} ({sport_name(activity)}) from {shown(source)}"
    start_text, end_text = text.get(b"startDate"), text.get(b"endDate")
    try:
        start, end = parse_when(start_text, zone), parse_when(end_text, zone)
    except ValueError:
        return InvalidWorkout(f"{where}: unreadable date {quoted(start_text)}/{quoted(end_text)}")
    try:
        duration = _amount(text.get(b"duration"), text.get(b"durationUnit", "min"), _MINUTES_PER, "duration")
        distance = _amount(
            text.get(b"totalDistance"), text.get(b"totalDistanceUnit"), _METRES_PER, "distance"
        )
        energy = _amount(
            text.get(b"totalEnergyBurned"), text.get(b"totalEnergyBurnedUnit"), _KJ_PER, "energy"
        )
    except ValueError as exc:
        return InvalidWorkout(f"{where}: {exc}")
    return AppleWorkout(activity, source, start, end, duration, distance, energy, line)


def read_heart_rate(raw: bytes, zone: ZoneInfo | timezone, line: int) -> WorkoutHeartRate | None:
    """A ``WorkoutStatistics`` tag's average heart rate, or None for statistics of another type
    (or a broken one: the workout keeps everything else)."""
    try:
        attributes = split_attributes(raw)
        if attributes.get(b"type") != HEART_RATE_TYPE:
            return None
        text = {key: attribute_value(value) for key, value in attributes.items()}
        average = float(text[b"average"]) if text.get(b"average") else None
        start = parse_when(text.get(b"startDate"), zone) if text.get(b"startDate") else None
    except (Broken, ValueError):
        return WorkoutHeartRate(None, None, line)
    if text.get(b"unit", "count/min") != "count/min":
        average = None
    return WorkoutHeartRate(average, start, line)


def _vendor_id(workout: AppleWorkout) -> str:
    key = f"{workout.source_name}\x1f{workout.activity}\x1f{workout.start.isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:40]


class Workouts:
    """The workouts of one import, checked, as canonical payloads (the ingest body, no ``userId``)."""

    def __init__(self, skip: Callable[[str], None], max_workouts: int = MAX_WORKOUTS) -> None:
        self._skip = skip
        self._max = max_workouts
        self._kept: list[AppleWorkout] = []
        self._last_open = False  # whether the workout read last was kept (its statistics follow)
        self._tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        self.read = 0

    def add(self, item: AppleWorkout | InvalidWorkout | WorkoutHeartRate) -> None:
        if isinstance(item, WorkoutHeartRate):
            self._heart_rate(item)
            return
        self.read += 1
        self._last_open = False
        if isinstance(item, InvalidWorkout):
            self._skip(item.reason)
            return
        problem = self._problem(item)
        if problem is not None:
            self._skip(
                f"workout at line {item.line} ({sport_name(item.activity)}) from "
                f"{shown(item.source_name)}: {problem}"
            )
            return
        if len(self._kept) >= self._max:
            self._skip(f"workout at line {item.line}: more than {self._max:,} workouts in one export")
            return
        self._kept.append(item)
        self._last_open = True

    def _problem(self, item: AppleWorkout) -> str | None:
        span = item.end - item.start
        if span <= timedelta(0):
            return "ends before it starts" if span < timedelta(0) else "lasts no time"
        if span > MAX_WORKOUT:
            return f"lasts {span.total_seconds() / 3600:.1f} h, more than 24 h (a recording left running?)"
        if item.duration_min is not None and not 0 < item.duration_min <= MAX_WORKOUT.total_seconds() / 60:
            return f"duration {item.duration_min:g} min is not between 0 and 24 h"
        if not EARLIEST_DATE <= item.start.date() <= self._tomorrow:
            return f"starts on {item.start.date()}, outside {EARLIEST_DATE}..{self._tomorrow} (device clock?)"
        return None

    def _heart_rate(self, item: WorkoutHeartRate) -> None:
        if not self._last_open or item.average is None:
            return
        workout = self._kept[-1]
        if item.start is not None and not workout.start - timedelta(minutes=1) <= item.start <= workout.end:
            return  # not this workout's: the tag stood outside it
        if 25 <= item.average <= 250:
            self._kept[-1] = replace(workout, average_hr=round(item.average, 1))

    def payloads(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for workout in sorted(self._kept, key=lambda w: (w.start, w.line)):
            offset = workout.start.utcoffset()
            minutes = workout.duration_min or (workout.end - workout.start).total_seconds() / 60
            payload: dict[str, Any] = {
                "vendorId": _vendor_id(workout),
                "date": workout.start.date().isoformat(),
                "startAt": workout.start.isoformat(),
                "endAt": workout.end.isoformat(),
                "utcOffsetMin": None if offset is None else int(offset.total_seconds() // 60),
                "sport": sport_name(workout.activity),
                "durationMin": round(minutes, 1),
                "averageHr": workout.average_hr,
                "energyKj": None if workout.energy_kj is None else round(workout.energy_kj, 1),
                "distanceM": None if workout.distance_m is None else round(workout.distance_m, 1),
                "sourceDevice": workout.source_name,
                "vendor": VENDOR,
                "capturedAt": workout.end.isoformat(),
            }
            out.append({key: value for key, value in payload.items() if value is not None})
        return out
