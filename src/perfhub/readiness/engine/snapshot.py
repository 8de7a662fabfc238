"""One athlete-day read out of computed arrays: score, band, components, baselines, drivers, flags."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

from perfhub.readiness.engine.batch import ReadinessArrays, SeriesBatch
from perfhub.readiness.engine.drivers import Driver, driver_to_json, render
from perfhub.readiness.engine.flags import flag_bits, flag_codes
from perfhub.readiness.engine.hashing import inputs_hash
from perfhub.readiness.engine.rules import (
    ALGORITHM_VERSION,
    CONTRIBUTORS,
    REASON_NAMES,
    REASON_NO_RECENT,
    SOURCE_CHANGE_DAYS,
    STATUS_NAMES,
    WEIGHTS,
    band_for,
    round_score,
)
from perfhub.readiness.engine.selection import DayFacts, select_drivers
from perfhub.readiness.engine.sleep_debt import DEBT_CATEGORIES, DEFAULT_SLEEP_NEED_MIN

__all__ = ["Component", "ReadinessSnapshot", "snapshot"]


@dataclass(frozen=True)
class Component:
    """A contributor's score and its weight renormalised over the contributors present."""

    name: str
    score: int
    weight: float


@dataclass(frozen=True)
class ReadinessSnapshot:
    """One athlete-day, ready to be stored as a ``readiness_snapshot`` row or served by the API."""

    date: datetime.date
    score: int | None
    band: str | None
    status: str | None
    reason: str | None
    stale: bool
    drivers: tuple[Driver, ...]
    components: tuple[Component, ...]
    baselines: dict[str, float | None]
    algorithm_version: str
    inputs_hash: str = ""
    hrv_metric: str | None = None  # "rMSSD" | "SDNN" for the day's segment
    sleep_debt_category: str | None = None
    flags: tuple[str, ...] = ()  # codes of engine.flags.FLAG_CODES, in that order

    def rendered_drivers(self) -> list[str]:
        return [render(d) for d in self.drivers]

    def drivers_json(self) -> list[dict[str, Any]]:
        return [driver_to_json(d) for d in self.drivers]

    def components_json(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "score": c.score, "weight": c.weight} for c in self.components]


# Stored numbers are rounded: window sums are differences of cumulative sums, whose last bits
# depend on where a batch starts, and a snapshot must not (served = batch, whatever the window).
_STORED_DECIMALS = 9


def _opt(value: Any) -> float | None:
    f = float(value)
    return None if math.isnan(f) else round(f, _STORED_DECIMALS)


def _age(value: Any) -> int | None:
    i = int(value)
    return None if i < 0 else i


def snapshot(
    batch: SeriesBatch,
    result: ReadinessArrays,
    athlete: int,
    day: int | datetime.date,
    *,
    digest: str | None = None,
) -> ReadinessSnapshot:
    """The readiness of one athlete-day read out of a computed batch, with its drivers.

    ``digest`` is the day's :func:`inputs_hash` when the caller has already computed it.
    """
    a = int(athlete)
    d = batch.day_index(day) if isinstance(day, datetime.date) else int(day)
    if d < 0:
        d += batch.days
    raw = float(result.score[a, d])
    scored = not math.isnan(raw)

    metric = _hrv_metric(batch, result, a, d)
    present = _present_components(result, a, d)
    total = sum(WEIGHTS[name] for name in present)
    components = tuple(
        Component(name, round_score(c), round(WEIGHTS[name] / total, 4)) for name, c in present.items()
    )
    debt_code = int(result.debt_category[a, d])
    debt_category = DEBT_CATEGORIES[debt_code] if debt_code >= 0 else None
    baselines = _baselines(batch, result, a, d)

    status_code = int(result.status[a, d])
    status = STATUS_NAMES[status_code] if scored and status_code >= 0 else None
    drivers: tuple[Driver, ...] = ()
    if scored:
        facts = _day_facts(batch, result, a, d, present, baselines, metric, debt_category, status)
        drivers = select_drivers(facts)

    reason_code = int(result.reason[a, d])
    return ReadinessSnapshot(
        date=batch.date_of(d),
        score=round_score(raw) if scored else None,
        band=band_for(raw) if scored else None,
        status=status,
        reason=None if scored else REASON_NAMES[reason_code] or REASON_NAMES[REASON_NO_RECENT],
        stale=bool(result.stale[a, d]),
        drivers=drivers,
        components=components if scored else (),
        baselines=baselines,
        algorithm_version=ALGORITHM_VERSION,
        inputs_hash=digest if digest is not None else inputs_hash(batch, result, a, d),
        hrv_metric=metric,
        sleep_debt_category=debt_category,
        flags=flag_codes(int(flag_bits(result, a, d))),
    )


def _hrv_metric(batch: SeriesBatch, result: ReadinessArrays, a: int, d: int) -> str | None:
    """The metric of the latest HRV reading, if it lies in the day's segment."""
    hrv_age = _age(result.hrv_age_days[a, d])
    if hrv_age is not None and d - hrv_age >= int(result.segment_start[a, d]):
        return "SDNN" if bool(batch.hrv_is_sdnn[a, d - hrv_age]) else "rMSSD"
    return None


def _present_components(result: ReadinessArrays, a: int, d: int) -> dict[str, float]:
    """The contributors computed on the day, in ``CONTRIBUTORS`` order."""
    present: dict[str, float] = {}
    for k, name in enumerate(CONTRIBUTORS):
        c = float(result.components[a, d, k])
        if not math.isnan(c):
            present[name] = c
    return present


def _baselines(batch: SeriesBatch, result: ReadinessArrays, a: int, d: int) -> dict[str, float | None]:
    acute = _opt(result.load_acute[a, d])
    chronic = _opt(result.load_chronic[a, d])
    return {
        "ln7": _opt(result.ln7[a, d]),
        "normalLow": _opt(result.normal_low[a, d]),
        "normalHigh": _opt(result.normal_high[a, d]),
        "lastNightLnHrv": _opt(result.hrv_value[a, d]),
        "restingHr": _opt(result.rhr_value[a, d]),
        "restingHrBaseline": _opt(result.rhr_baseline[a, d]),
        "sleepMin": _opt(batch.sleep_min[a, d]),
        "sleepNeedMin": _opt(result.sleep_need[a, d]),
        "debtHours": _opt(result.debt_hours[a, d]),
        "acwr": _opt(result.acwr[a, d]),
        "loadAcute": acute,
        "loadChronic": chronic,
        "tsb": None if acute is None or chronic is None else chronic - acute,
    }


def _day_facts(
    batch: SeriesBatch,
    result: ReadinessArrays,
    a: int,
    d: int,
    present: dict[str, float],
    baselines: dict[str, float | None],
    metric: str | None,
    debt_category: str | None,
    status: str | None,
) -> DayFacts:
    return DayFacts(
        metric=metric or "rMSSD",
        components=present,
        weights=WEIGHTS,
        ln7=baselines["ln7"],
        normal_low=baselines["normalLow"],
        normal_high=baselines["normalHigh"],
        hrv_value=baselines["lastNightLnHrv"],
        night_z=_latest_night_z(result, a, d),
        hrv_stale=bool(result.hrv_stale[a, d]),
        hrv_age_days=_age(result.hrv_age_days[a, d]),
        rhr_value=baselines["restingHr"],
        rhr_baseline=baselines["restingHrBaseline"],
        rhr_stale=bool(result.rhr_stale[a, d]),
        rhr_age_days=_age(result.rhr_age_days[a, d]),
        sleep_min=baselines["sleepMin"],
        sleep_need_min=float(baselines["sleepNeedMin"] or DEFAULT_SLEEP_NEED_MIN),
        efficiency_pct=_opt(batch.efficiency_pct[a, d]),
        latency_min=_opt(batch.latency_min[a, d]),
        wake_count=_opt(batch.wake_count[a, d]),
        debt_hours=baselines["debtHours"],
        debt_category=debt_category,
        acwr=baselines["acwr"],
        load_acute=baselines["loadAcute"],
        load_chronic=baselines["loadChronic"],
        illness=bool(result.illness[a, d]),
        overreaching=bool(result.overreaching[a, d]),
        saturation=bool(result.saturation[a, d]),
        trend_nights=int(result.trend_nights[a, d]),
        status=status,
        hrv_days=int(result.hrv_days[a, d]),
        new_source_days=_new_source_days(result, a, d),
    )


def _latest_night_z(result: ReadinessArrays, a: int, d: int) -> float | None:
    """Last night's HRV against its baseline in SD, else the night before's (under 36 h old)."""
    for day in (d, d - 1):
        if day >= 0 and (z := _opt(result.hrv_night_z[a, day])) is not None:
            return z
    return None


def _new_source_days(result: ReadinessArrays, a: int, d: int) -> int | None:
    """Days since the current HRV source took over, if it replaced another within the last
    ``SOURCE_CHANGE_DAYS`` days (HRV days from before its segment are still in the history)."""
    since = d - int(result.segment_start[a, d])
    replaced = int(result.history_days[a, d]) > int(result.hrv_days[a, d])
    return since if replaced and since < SOURCE_CHANGE_DAYS else None
