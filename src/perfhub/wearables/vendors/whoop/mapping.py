"""WHOOP's pure mapping: HRV and resting HR from the recovery, sleep durations from the sleep,
workouts (with their strain) as they are.

WHOOP has no date field: a night belongs to the local date of the sleep's ``end`` in its
``timezone_offset``, and a recovery takes the date of the sleep it was scored from (``sleep_id``),
attached by the client under the key ``"sleep"`` before mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from perfhub.readings.mapping import Mapped, Refused
from perfhub.wearables.vendors.errors import MappingError
from perfhub.wearables.vendors.parsing import (
    drop_none,
    fields_of,
    iso,
    minutes,
    number,
    parse_instant,
    parse_offset,
    require_mapping,
    signal_part,
    text,
    workout_payload,
    workout_times,
)

VENDOR = "whoop"

KINDS = ("sleep", "workout", "recovery")
SCORED = "SCORED"
NOT_YET_SCORED = frozenset({"PENDING_SCORE", "UNSCORABLE"})


# v2 names the sport (``sport_name``); records from before it carry only v1's ``sport_id``. The
# ids below are the ones WHOOP's sport list gives for the sports perfhub tells apart; any other
# id keeps its number, so nothing is guessed.
SPORT_IDS = {
    -1: "activity",
    0: "running",
    1: "cycling",
    33: "swimming",
    44: "yoga",
    45: "weightlifting",
    63: "walking",
}
WORKOUT_FIELDS = ("id", "start", "end", "timezone_offset", "sport_name", "sport_id", "score_state")
SCORE_FIELDS = ("strain", "average_heart_rate", "kilojoule", "distance_meter")
MAX_STRAIN = 21.0


def source_id(kind: str, record: Mapping[str, Any]) -> str | None:
    """The id a later ``Deletion`` names: the sleep uuid, for a recovery as well."""
    value = record.get("sleep_id") if kind == "recovery" else record.get("id")
    return str(value) if value is not None else None


def wake_time(sleep: Mapping[str, Any], tz_fallback: str, what: str) -> datetime:
    """The sleep's ``end`` in the offset it was recorded in (the athlete's zone when WHOOP gave none)."""
    end = parse_instant(sleep.get("end"), f"{what} end")
    offset = sleep.get("timezone_offset")
    if offset is None:
        return end.astimezone(_zone(tz_fallback))
    return end.astimezone(parse_offset(offset, what))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"fallback time zone {name!r} is not an IANA zone") from exc


def _scored(record: Mapping[str, Any], what: str) -> Mapping[str, Any] | None:
    """The score object, or None while WHOOP has not scored it; a SCORED record needs one."""
    state = record.get("score_state")
    if state in NOT_YET_SCORED:
        return None
    if state != SCORED:
        raise MappingError(f"{what}: unknown score_state {state!r}")
    score = record.get("score")
    if score is None:
        raise MappingError(f"{what}: SCORED without a score")
    return require_mapping(score, f"{what} score")


def _is_nap(sleep: Mapping[str, Any], what: str) -> bool:
    nap = sleep.get("nap")
    if not isinstance(nap, bool):
        raise MappingError(f"{what}: nap must be true or false")
    return nap


STAGE_FIELDS = (
    "total_light_sleep_time_milli",
    "total_slow_wave_sleep_time_milli",
    "total_rem_sleep_time_milli",
)
# How far the staged sleep may sit from in-bed time × efficiency before the night is impossible:
# rounding, and WHOOP's own definitions of the two, never move it by more than a few percent.
CROSS_CHECK_MIN_SLACK_MS = 30 * 60_000
CROSS_CHECK_SLACK_SHARE = 0.10


def _map_sleep(record: Any, tz_fallback: str) -> list[Mapped]:
    sleep = require_mapping(record, "whoop sleep")
    what = f"whoop sleep {sleep.get('id')}"
    if _is_nap(sleep, what):
        return []
    score = _scored(sleep, what)
    if score is None:
        return []
    woke = wake_time(sleep, tz_fallback, what)
    day = woke.date().isoformat()
    stages = score.get("stage_summary")
    part = {
        "id": sleep.get("id"),
        "stage_summary": stages,
        "sleep_efficiency_percentage": score.get("sleep_efficiency_percentage"),
    }
    return signal_part(
        "sleep", VENDOR, lambda: _sleep_payload(score, woke, what), part=drop_none(part), day=day
    )


def _sleep_payload(score: Mapping[str, Any], woke: datetime, what: str) -> list[Mapped]:
    stage_what = f"{what} stage_summary"
    stages = require_mapping(score.get("stage_summary"), stage_what)
    asleep_ms = sum(number(stages, key, stage_what, required=True) or 0.0 for key in STAGE_FIELDS)
    in_bed_ms = number(stages, "total_in_bed_time_milli", stage_what)
    if in_bed_ms is not None and in_bed_ms < asleep_ms:
        raise MappingError(f"{what}: time in bed is shorter than the sleep stages add up to")
    efficiency = number(score, "sleep_efficiency_percentage", what)
    if efficiency is not None and efficiency > 100:
        raise MappingError(f"{what}: sleep_efficiency_percentage {efficiency} is above 100")
    if in_bed_ms is not None and efficiency is not None:
        _cross_check(
            asleep_ms, in_bed_ms, efficiency, number(stages, "total_no_data_time_milli", stage_what), what
        )
    wakes = number(stages, "disturbance_count", stage_what)
    if wakes is not None and not wakes.is_integer():
        raise MappingError(f"{what}: disturbance_count {wakes} is not a whole number")
    # WHOOP has no sleep latency: latencyMin stays absent rather than a guessed 0.
    payload = {
        "date": woke.date().isoformat(),
        "durationMin": minutes(asleep_ms, 60_000),
        "efficiencyPct": efficiency,
        "wakeCount": int(wakes) if wakes is not None else None,
        "inBedMin": minutes(in_bed_ms, 60_000),
        "vendor": VENDOR,
        "capturedAt": iso(woke),
    }
    return [("sleep", drop_none(payload))]


def _cross_check(
    asleep_ms: float, in_bed_ms: float, efficiency: float, no_data_ms: float | None, what: str
) -> None:
    """Refuse a night whose staged sleep contradicts its own in-bed time and efficiency.

    Efficiency is the share of time in bed spent asleep, so in-bed × efficiency is a second,
    independent estimate of the sleep duration. A night scored with no stages at all (0 minutes of
    light, slow wave and REM next to 7 hours in bed at 91 %) passes every range check on its own
    but cannot be true; ingesting it would record a sleepless night and a large sleep debt. Time
    WHOOP could not stage (no data) may explain a shortfall, so it widens the tolerance.
    """
    expected_ms = in_bed_ms * efficiency / 100
    slack_ms = max(CROSS_CHECK_MIN_SLACK_MS, CROSS_CHECK_SLACK_SHARE * in_bed_ms) + (no_data_ms or 0.0)
    if abs(asleep_ms - expected_ms) > slack_ms:
        raise MappingError(
            f"{what}: light + slow wave + REM add up to {asleep_ms / 60_000:.0f} min, but "
            f"{in_bed_ms / 60_000:.0f} min in bed at {efficiency:g} % efficiency means about "
            f"{expected_ms / 60_000:.0f} min asleep"
        )


RECOVERY_FIELDS = ("hrv_rmssd_milli", "resting_heart_rate", "user_calibrating")


def _map_recovery(record: Any, tz_fallback: str) -> list[Mapped]:
    recovery = require_mapping(record, "whoop recovery")
    what = f"whoop recovery of cycle {recovery.get('cycle_id')}"
    score = _scored(recovery, what)
    if score is None:
        return []
    sleep = recovery.get("sleep")
    if sleep is not None:
        sleep = require_mapping(sleep, f"{what} sleep")
        if _is_nap(sleep, f"{what} sleep"):
            return []
        # Only the sleep's wake time is used: a sleep whose stages are refused still dates its
        # recovery, and the night's HRV and resting HR are kept.
        measured = wake_time(sleep, tz_fallback, f"{what} sleep")
    else:
        # Without its sleep, the recovery's creation (when WHOOP scored it, on waking) in the
        # athlete's zone is the nearest stand-in for the wake time.
        measured = parse_instant(recovery.get("created_at"), f"{what} created_at").astimezone(
            _zone(tz_fallback)
        )
    day = measured.date().isoformat()
    part = {"cycle_id": recovery.get("cycle_id"), "sleep_id": recovery.get("sleep_id")}
    return signal_part(
        "hrv",
        VENDOR,
        lambda: _hrv_payload(score, measured, what),
        part=drop_none({**part, **fields_of(score, RECOVERY_FIELDS)}),
        day=day,
    )


def _hrv_payload(score: Mapping[str, Any], measured: datetime, what: str) -> list[Mapped]:
    day = measured.date().isoformat()
    rmssd = number(score, "hrv_rmssd_milli", what) or None
    resting_hr = number(score, "resting_heart_rate", what) or None
    if rmssd is None and resting_hr is None:
        raise MappingError(f"{what}: scored without hrv_rmssd_milli or resting_heart_rate")
    refused: list[Mapped] = []
    readiness: float | None = None
    try:
        readiness = number(score, "recovery_score", what)
        if readiness is not None and readiness > 100:
            raise MappingError(f"{what}: recovery_score {readiness} is above 100")
    except MappingError as exc:
        # A vendor score, not a signal: it never costs the night its HRV and resting HR.
        readiness = None
        reason = f"{exc}; the HRV row is kept without a readiness score"
        refused.append(Refused("hrv", VENDOR, reason, {"recovery_score": score.get("recovery_score")}, day))
    # ``user_calibrating``: WHOOP is still learning the athlete's baselines and its score is not
    # final; the flag travels with the row so readers can tell.
    calibrating = score.get("user_calibrating")
    if calibrating is not None and not isinstance(calibrating, bool):
        reason = f"{what}: user_calibrating must be true or false; the HRV row is kept without it"
        refused.append(Refused("hrv", VENDOR, reason, {"user_calibrating": calibrating}, day))
        calibrating = None
    payload = {
        "date": day,
        "rMSSD": rmssd,
        "restingHr": resting_hr,
        "readinessScore": readiness,
        "vendorCalibrating": calibrating,
        "vendor": VENDOR,
        "capturedAt": iso(measured),
    }
    return [("hrv", drop_none(payload)), *refused]


def _map_workout(record: Any, tz_fallback: str) -> list[Mapped]:
    workout = require_mapping(record, "whoop workout")
    what = f"whoop workout {workout.get('id')}"
    part = drop_none(fields_of(workout, WORKOUT_FIELDS))
    score = workout.get("score")
    if isinstance(score, Mapping):
        part["score"] = drop_none(fields_of(score, SCORE_FIELDS))
    return signal_part(
        "workout",
        VENDOR,
        lambda: _workout_payload(workout, tz_fallback, what),
        part=part,
        day=_start_day(workout, tz_fallback),
    )


def _workout_payload(workout: Mapping[str, Any], tz_fallback: str, what: str) -> list[Mapped]:
    vendor_id = text(workout, "id", what)
    # Not yet scored: the workout happened and keeps its place; its strain comes with the update.
    score = _scored(workout, what)
    offset = workout.get("timezone_offset")
    zone = _zone(tz_fallback) if offset is None else parse_offset(offset, what)
    start, end = workout_times(workout.get("start"), workout.get("end"), zone, what)
    measures: dict[str, float | None] = {}
    if score is not None:
        strain = number(score, "strain", f"{what} score")
        if strain is not None and strain > MAX_STRAIN:
            raise MappingError(f"{what}: strain {strain:g} is above {MAX_STRAIN:g}")
        measures = {
            "strain": strain,
            "averageHr": number(score, "average_heart_rate", f"{what} score"),
            "energyKj": number(score, "kilojoule", f"{what} score"),
            "distanceM": number(score, "distance_meter", f"{what} score"),
        }
    updated = workout.get("updated_at")
    captured = parse_instant(updated, f"{what} updated_at") if updated is not None else end
    return workout_payload(VENDOR, vendor_id, start, end, _sport(workout, what), captured, **measures)


def _sport(workout: Mapping[str, Any], what: str) -> str:
    name = workout.get("sport_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    sport_id = workout.get("sport_id")
    if isinstance(sport_id, int) and not isinstance(sport_id, bool):
        return SPORT_IDS.get(sport_id, f"whoop sport {sport_id}")
    raise MappingError(f"{what}: neither sport_name nor sport_id says what the workout was")


def _start_day(workout: Mapping[str, Any], tz_fallback: str) -> str | None:
    """The day a workout would be filed under, for a refusal's dead letter (None when unreadable)."""
    try:
        offset = workout.get("timezone_offset")
        zone = _zone(tz_fallback) if offset is None else parse_offset(offset, "whoop workout")
        return parse_instant(workout.get("start"), "whoop workout start").astimezone(zone).date().isoformat()
    except MappingError:
        return None


def map_records(kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
    """Canonical ("hrv" | "sleep" | "workout", payload) pairs for one WHOOP record (ingest bodies
    without ``userId``).

    ``sleep``: non-nap, scored sleeps → a sleep row. ``recovery`` (ideally with its sleep under
    ``"sleep"``): scored recoveries → an HRV row. ``workout``: a workout row, dated by the local
    day of its ``start`` in its ``timezone_offset``, with its strain once scored. ``cycle`` makes
    no rows.

    What dates a record (nap flag, score state, wake time) refuses it whole (``MappingError``); a
    payload that cannot be built is ``Refused`` with its reason, and a night's sleep and its recovery
    are separate records, so an impossible sleep never costs the recovery's HRV and resting HR.
    A workout that cannot be read (its times, its score state, its sport) is ``Refused`` whole.
    """
    if kind == "sleep":
        return _map_sleep(record, tz_fallback)
    if kind == "recovery":
        return _map_recovery(record, tz_fallback)
    if kind == "workout":
        return _map_workout(record, tz_fallback)
    if kind == "cycle":
        return []
    raise MappingError(f"unsupported WHOOP kind {kind!r}")
