"""Which facts explain a day: candidate builders ranked by tier and severity (docs/readiness.md#selection).

Each builder looks at one signal of a :class:`DayFacts` and proposes at most one driver with its
tier and severity. :data:`BUILDERS` lists them in a fixed order, which is also the tie-break
between candidates of equal tier and severity; :func:`select_drivers` keeps the ``limit`` worst.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from perfhub.readiness.engine.drivers import Driver, make_driver
from perfhub.readiness.engine.rules import BASELINE_MIN_READINGS, NO_RECENT_AFTER_DAYS, RANGE_HALF_WIDTH_SD

__all__ = ["BUILDERS", "DayFacts", "select_drivers"]


@dataclass(frozen=True)
class DayFacts:
    """The numbers of one athlete-day that drivers are chosen from (None = not available).

    ``components`` holds the contributor scores that are present (0–100), ``weights`` the
    un-normalised contributor weights.
    """

    metric: str
    components: Mapping[str, float]
    weights: Mapping[str, float]
    ln7: float | None = None
    normal_low: float | None = None
    normal_high: float | None = None
    hrv_value: float | None = None
    night_z: float | None = None  # the newest night (under 36 h old) against the 60-day mean, SD
    hrv_stale: bool = False
    hrv_age_days: int | None = None
    rhr_value: float | None = None
    rhr_baseline: float | None = None
    rhr_stale: bool = False
    rhr_age_days: int | None = None
    sleep_min: float | None = None
    sleep_need_min: float = 480.0
    efficiency_pct: float | None = None
    latency_min: float | None = None
    wake_count: float | None = None
    debt_hours: float | None = None
    debt_category: str | None = None
    acwr: float | None = None
    load_acute: float | None = None
    load_chronic: float | None = None
    illness: bool = False
    overreaching: bool = False
    saturation: bool = False
    trend_nights: int = 0
    status: str | None = None
    hrv_days: int = 0
    # Days since the HRV source in use took over, when it replaced another one recently.
    new_source_days: int | None = None


# Tiers order facts before their severity does: the illness override, then facts that cost at
# least a point of readiness, then staleness (the user must know the score uses old data), then
# flags, then minor negatives, then reassuring facts.
_T_ILLNESS, _T_NEG, _T_STALE, _T_FLAG, _T_MINOR, _T_OK, _T_INFO = range(7)
_TYPICAL = 75.0  # a contributor at the athlete's own baseline scores about this


@dataclass(frozen=True)
class _Candidate:
    tier: int
    severity: float
    driver: Driver


def _lost(facts: DayFacts, name: str, share: float = 1.0) -> float:
    """Readiness points a contributor costs against a typical day (its weight × shortfall)."""
    score = facts.components.get(name)
    if score is None:
        return 0.0
    return facts.weights.get(name, 0.0) * share * max(0.0, _TYPICAL - score)


def _neg(severity: float) -> int:
    return _T_NEG if severity >= 1.0 else _T_MINOR


def _hrv_range(facts: DayFacts) -> tuple[float, float, float] | None:
    """(7-day ln HRV, range low, range high) when the range and HRV balance are known."""
    if facts.ln7 is None or facts.normal_low is None or facts.normal_high is None:
        return None
    if "hrv_balance" not in facts.components:
        return None
    return float(facts.ln7), float(facts.normal_low), float(facts.normal_high)


# --------------------------------------------------------------------------------------------
# Builders, one signal each. Thresholds are written so that a NaN never meets them
# (``not x < limit`` rather than ``x >= limit``).
# --------------------------------------------------------------------------------------------


def _illness(facts: DayFacts) -> _Candidate | None:
    if not facts.illness or facts.rhr_value is None or facts.rhr_baseline is None:
        return None
    if facts.ln7 is None or facts.normal_low is None or facts.normal_high is None:
        return None
    values: dict[str, float | str] = {
        "rhr_delta": float(facts.rhr_value - facts.rhr_baseline),
        "ln7": float(facts.ln7),
        "normal_low": float(facts.normal_low),
        "normal_high": float(facts.normal_high),
        "metric": facts.metric,
    }
    if not facts.ln7 < facts.normal_low and facts.night_z is not None:
        # Caught by the newest night before the weekly mean left the range: say that night.
        sd = (facts.normal_high - facts.normal_low) / (2 * RANGE_HALF_WIDTH_SD)
        values["night_sd"] = float(facts.night_z)
        values["value"] = float((facts.normal_low + facts.normal_high) / 2 + facts.night_z * sd)
    return _Candidate(_T_ILLNESS, math.inf, make_driver("illness", **values))


def _overreaching(facts: DayFacts) -> _Candidate | None:
    known = _hrv_range(facts)
    if not facts.overreaching or known is None:
        return None
    ln7, low, high = known
    driver = make_driver(
        "overreaching",
        nights=facts.trend_nights,
        ln7=ln7,
        normal_low=low,
        normal_high=high,
        metric=facts.metric,
    )
    # It caps the score, as illness does, so it is told before any cost of a single signal.
    return _Candidate(_T_ILLNESS, 1e9, driver)


def _hrv_balance(facts: DayFacts) -> _Candidate | None:
    known = _hrv_range(facts)
    if known is None:
        return None
    ln7, low, high = known
    values: dict[str, float | str] = {
        "ln7": ln7,
        "normal_low": low,
        "normal_high": high,
        "metric": facts.metric,
    }
    if facts.saturation:
        tier, severity, code = _T_FLAG, 0.0, "hrv_unusually_high"
        if facts.hrv_value is not None:
            values["value"] = float(facts.hrv_value)
    elif ln7 < low:
        tier, severity, code = _T_NEG, _lost(facts, "hrv_balance"), "hrv_below_range"
    elif ln7 > high:
        tier, severity, code = _T_OK, 0.3, "hrv_above_range"
    else:
        tier, severity, code = _T_OK, 0.3, "hrv_in_range"
    return _Candidate(tier, severity, make_driver(code, **values))


def _hrv_drop(facts: DayFacts) -> _Candidate | None:
    known = _hrv_range(facts)
    value = facts.hrv_value
    if known is None or value is None or facts.hrv_stale or "last_night_hrv" not in facts.components:
        return None
    ln7, low, high = known
    sd = (high - low) / (2 * RANGE_HALF_WIDTH_SD)
    if not sd > 0:
        return None
    drop_sd = (value - ln7) / sd
    if not drop_sd < -1.0:
        return None
    sev = _lost(facts, "last_night_hrv")
    driver = make_driver("hrv_drop", value=float(value), ln7=ln7, drop_sd=drop_sd, metric=facts.metric)
    return _Candidate(_neg(sev), sev, driver)


def _resting_hr(facts: DayFacts) -> _Candidate | None:
    if facts.rhr_value is None or facts.rhr_baseline is None or "resting_hr" not in facts.components:
        return None
    delta = facts.rhr_value - facts.rhr_baseline
    nums = {"value": float(facts.rhr_value), "baseline": float(facts.rhr_baseline), "delta": float(delta)}
    if delta >= 1.0:
        tier = _T_NEG if delta >= 3.0 else _T_MINOR
        return _Candidate(tier, _lost(facts, "resting_hr"), make_driver("rhr_elevated", **nums))
    if delta <= -1.0:
        return _Candidate(_T_OK, 0.2, make_driver("rhr_below_baseline", **nums))
    return _Candidate(_T_OK, 0.2, make_driver("rhr_at_baseline", **nums))


def _night(facts: DayFacts) -> float | None:
    """Last night's minutes, when the sleep contributor was scored."""
    return facts.sleep_min if "sleep" in facts.components else None


def _sleep_short(facts: DayFacts) -> _Candidate | None:
    minutes = _night(facts)
    if minutes is None or not minutes < 0.9 * facts.sleep_need_min:
        return None
    sev = _lost(facts, "sleep", 0.6)
    return _Candidate(
        _neg(sev), sev, make_driver("sleep_short", minutes=float(minutes), need=facts.sleep_need_min)
    )


def _sleep_efficiency(facts: DayFacts) -> _Candidate | None:
    efficiency = facts.efficiency_pct
    if _night(facts) is None or efficiency is None or not efficiency < 85.0:
        return None
    sev = _lost(facts, "sleep", 0.2) + 0.01
    return _Candidate(_neg(sev), sev, make_driver("sleep_efficiency_low", efficiency=float(efficiency)))


def _sleep_latency(facts: DayFacts) -> _Candidate | None:
    latency = facts.latency_min
    if _night(facts) is None or latency is None or not latency > 30.0:
        return None
    sev = _lost(facts, "sleep", 0.1) + 0.01
    return _Candidate(_neg(sev), sev, make_driver("sleep_latency_long", latency=float(latency)))


def _sleep_wakes(facts: DayFacts) -> _Candidate | None:
    wakes = facts.wake_count
    if _night(facts) is None or wakes is None or not wakes >= 5:
        return None
    sev = _lost(facts, "sleep", 0.15) + 0.01
    return _Candidate(_neg(sev), sev, make_driver("sleep_wakes", wakes=float(wakes)))


_SLEEP_PROBLEMS = (_sleep_short, _sleep_efficiency, _sleep_latency, _sleep_wakes)


def _sleep_good(facts: DayFacts) -> _Candidate | None:
    minutes = _night(facts)
    if minutes is None or not minutes >= 0.95 * facts.sleep_need_min:
        return None
    # A good night is only said when nothing was found wrong with it.
    if any(problem(facts) is not None for problem in _SLEEP_PROBLEMS):
        return None
    return _Candidate(
        _T_OK, 0.15, make_driver("sleep_good", minutes=float(minutes), need=facts.sleep_need_min)
    )


def _sleep_debt(facts: DayFacts) -> _Candidate | None:
    if facts.debt_hours is None or facts.debt_category is None or "sleep_debt" not in facts.components:
        return None
    fact = make_driver("sleep_debt", hours=float(facts.debt_hours), category=facts.debt_category)
    if facts.debt_category in ("moderate", "high"):
        return _Candidate(_T_NEG, max(_lost(facts, "sleep_debt"), 1.0), fact)
    if facts.debt_category == "low":
        return _Candidate(_T_MINOR, _lost(facts, "sleep_debt"), fact)
    return _Candidate(_T_OK, 0.1, fact)


def _training_load(facts: DayFacts) -> _Candidate | None:
    acwr = facts.acwr
    if acwr is None or "training_load" not in facts.components:
        return None
    acute, chronic = facts.load_acute, facts.load_chronic
    sev = _lost(facts, "training_load")
    if acwr >= 1.3:
        return _Candidate(_T_NEG if acwr >= 1.5 else _T_MINOR, sev, make_driver("load_spike", acwr=acwr))
    if acute is not None and chronic is not None and chronic > 0 and (chronic - acute) / chronic < -0.25:
        driver = make_driver(
            "load_fatigue", acute=float(acute), chronic=float(chronic), tsb=float(chronic - acute)
        )
        return _Candidate(_neg(sev), sev, driver)
    if acwr >= 0.8:
        return _Candidate(_T_OK, 0.05, make_driver("load_balanced", acwr=acwr))
    return None


def _stale_hrv(facts: DayFacts) -> _Candidate | None:
    if not facts.hrv_stale or facts.hrv_age_days is None:
        return None
    age = min(facts.hrv_age_days, NO_RECENT_AFTER_DAYS + 1)
    return _Candidate(_T_STALE, float(age), make_driver("stale_hrv", age_days=age))


def _stale_rhr(facts: DayFacts) -> _Candidate | None:
    if not facts.rhr_stale or facts.rhr_age_days is None:
        return None
    age = min(facts.rhr_age_days, NO_RECENT_AFTER_DAYS + 1)
    return _Candidate(_T_STALE, float(age), make_driver("stale_rhr", age_days=age))


def _source_changed(facts: DayFacts) -> _Candidate | None:
    if facts.new_source_days is None:
        return None
    driver = make_driver(
        "source_changed", days=facts.new_source_days, nights=facts.hrv_days, needed=BASELINE_MIN_READINGS
    )
    return _Candidate(_T_STALE, 0.5, driver)


def _calibrating(facts: DayFacts) -> _Candidate | None:
    if facts.status != "calibrating":
        return None
    return _Candidate(
        _T_INFO, 0.0, make_driver("calibrating", days=facts.hrv_days, target=21, next="provisional")
    )


# The order is the tie-break between candidates of equal tier and severity (the sort is stable).
BUILDERS: tuple[Callable[[DayFacts], _Candidate | None], ...] = (
    _illness,
    _overreaching,
    _hrv_balance,
    _hrv_drop,
    _resting_hr,
    _sleep_short,
    _sleep_efficiency,
    _sleep_latency,
    _sleep_wakes,
    _sleep_good,
    _sleep_debt,
    _training_load,
    _stale_hrv,
    _stale_rhr,
    _source_changed,
    _calibrating,
)


def _rank(candidate: _Candidate) -> tuple[int, float]:
    return candidate.tier, -candidate.severity


def select_drivers(facts: DayFacts, limit: int = 4) -> tuple[Driver, ...]:
    """The ``limit`` most important facts of the day, worst first (always includes staleness)."""
    cands = [cand for build in BUILDERS if (cand := build(facts)) is not None]
    stale = [cand for cand in cands if cand.tier == _T_STALE]
    cands.sort(key=_rank)
    chosen = cands[:limit]
    # Staleness must always be visible: it qualifies every other number on the card.
    for cand in stale:
        if cand not in chosen and chosen:
            for i in range(len(chosen) - 1, -1, -1):
                if chosen[i].tier != _T_STALE and chosen[i].tier != _T_ILLNESS:
                    chosen[i] = cand
                    break
    chosen.sort(key=_rank)
    return tuple(c.driver for c in chosen)
