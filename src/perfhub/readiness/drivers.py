"""Readiness drivers: structured facts (a code and its numbers) and their rendering.

Drivers are stored as facts so that wording can change (or be translated) without recomputing
history; :func:`render` turns one into a short sentence naming the signal, its value and its
baseline (docs/readiness.md). :func:`select_drivers` picks the 1–4 most important facts of a day,
worst first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DRIVER_CODES",
    "PLAIN_CODES",
    "DayFacts",
    "Driver",
    "driver_from_json",
    "driver_to_json",
    "render",
    "render_plain",
    "select_drivers",
]

DriverValue = float | int | str

# A fact's numbers are rounded when the fact is made so the stored JSON is tidy and stable.
_DECIMALS = 4


@dataclass(frozen=True)
class Driver:
    """One fact behind a readiness score, e.g. ``Driver("rhr_elevated", {"delta": 6.2, ...})``."""

    code: str
    values: dict[str, DriverValue] = field(default_factory=dict)


def driver_to_json(driver: Driver) -> dict[str, Any]:
    """JSON-serialisable dict for storage: ``{"code": ..., "values": {...}}``."""
    return {"code": driver.code, "values": dict(driver.values)}


def driver_from_json(data: Mapping[str, Any]) -> Driver:
    """Inverse of :func:`driver_to_json`; rejects values that are not numbers or strings."""
    code = data.get("code")
    if not isinstance(code, str) or not code:
        raise ValueError("driver needs a non-empty string 'code'")
    raw = data.get("values") or {}
    if not isinstance(raw, Mapping):
        raise ValueError("driver 'values' must be an object")
    values: dict[str, DriverValue] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"driver value {key!r} must be a number or a string")
        values[str(key)] = value
    return Driver(code, values)


def _make(code: str, **values: DriverValue) -> Driver:
    clean: dict[str, DriverValue] = {}
    for key, value in values.items():
        # float(): numpy scalars round an order of magnitude slower than Python floats.
        clean[key] = round(float(value), _DECIMALS) if isinstance(value, float) else value
    return Driver(code, clean)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _num(values: Mapping[str, DriverValue], key: str) -> float:
    value = values.get(key)
    if isinstance(value, int | float):
        return float(value)
    raise KeyError(key)


def _ln(values: Mapping[str, DriverValue]) -> str:
    return "ln SDNN" if values.get("metric") == "SDNN" else "ln rMSSD"


def _range(values: Mapping[str, DriverValue]) -> str:
    return f"range {_num(values, 'normal_low'):.2f}–{_num(values, 'normal_high'):.2f}"


def _bpm(x: float) -> str:
    return f"{round(x):d}"


def _days_ago(days: float) -> str:
    d = round(days)
    return "yesterday" if d == 1 else f"{d} days ago"


def _r_illness(v: Mapping[str, DriverValue]) -> str:
    return (
        f"Possible illness or accumulated strain: resting HR {_bpm(_num(v, 'rhr_delta'))} bpm above "
        f"baseline with HRV below your normal range (7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)})"
    )


def _r_hrv_below(v: Mapping[str, DriverValue]) -> str:
    return f"HRV below your normal range (7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)})"


def _r_hrv_high(v: Mapping[str, DriverValue]) -> str:
    return (
        f"HRV unusually high (7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)}); "
        "not counted as extra readiness"
    )


def _r_hrv_above(v: Mapping[str, DriverValue]) -> str:
    return f"HRV slightly above your normal range (7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)})"


def _r_hrv_in(v: Mapping[str, DriverValue]) -> str:
    return f"HRV within your normal range (7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)})"


def _r_hrv_drop(v: Mapping[str, DriverValue]) -> str:
    return (
        f"Last night's HRV well below your 7-day average ({_ln(v)} {_num(v, 'value'):.2f} vs "
        f"{_num(v, 'ln7'):.2f}, {abs(_num(v, 'drop_sd')):.1f} SD lower)"
    )


def _r_rhr_elevated(v: Mapping[str, DriverValue]) -> str:
    return (
        f"Resting HR {_bpm(_num(v, 'delta'))} bpm above baseline "
        f"({_bpm(_num(v, 'value'))} vs {_num(v, 'baseline'):.0f} bpm)"
    )


def _r_rhr_below(v: Mapping[str, DriverValue]) -> str:
    return (
        f"Resting HR {_bpm(-_num(v, 'delta'))} bpm below baseline "
        f"({_bpm(_num(v, 'value'))} vs {_num(v, 'baseline'):.0f} bpm)"
    )


def _r_rhr_at(v: Mapping[str, DriverValue]) -> str:
    return f"Resting HR at baseline ({_bpm(_num(v, 'value'))} vs {_num(v, 'baseline'):.0f} bpm)"


def _r_sleep_short(v: Mapping[str, DriverValue]) -> str:
    return f"Short sleep: {_num(v, 'minutes') / 60:.1f} h against your {_num(v, 'need') / 60:.1f} h need"


def _r_sleep_good(v: Mapping[str, DriverValue]) -> str:
    return f"Slept {_num(v, 'minutes') / 60:.1f} h against your {_num(v, 'need') / 60:.1f} h need"


def _r_sleep_eff(v: Mapping[str, DriverValue]) -> str:
    return f"Sleep efficiency {_num(v, 'efficiency'):.0f}% (good is 85% or more)"


def _r_sleep_latency(v: Mapping[str, DriverValue]) -> str:
    return f"Took {_num(v, 'latency'):.0f} min to fall asleep (more than 30 min is poor)"


def _r_sleep_wakes(v: Mapping[str, DriverValue]) -> str:
    return f"Woke {_num(v, 'wakes'):.0f} times during the night (4 or fewer is typical)"


def _r_sleep_debt(v: Mapping[str, DriverValue]) -> str:
    category = v.get("category", "")
    if category == "none":
        return f"No sleep debt ({_num(v, 'hours'):.1f} h over 14 nights)"
    return f"Sleep debt {_num(v, 'hours'):.1f} h ({category})"


def _r_load_spike(v: Mapping[str, DriverValue]) -> str:
    return f"Training load spike: acute:chronic ratio {_num(v, 'acwr'):.2f} (fine 0.8–1.3)"


def _r_load_fatigue(v: Mapping[str, DriverValue]) -> str:
    return (
        f"Accumulated training fatigue: 7-day load {_num(v, 'acute'):.0f} vs "
        f"42-day {_num(v, 'chronic'):.0f} (balance {_num(v, 'tsb'):.0f})"
    )


def _r_load_ok(v: Mapping[str, DriverValue]) -> str:
    return f"Training load balanced: acute:chronic ratio {_num(v, 'acwr'):.2f} (fine 0.8–1.3)"


def _r_stale(signal: str) -> Callable[[Mapping[str, DriverValue]], str]:
    def fmt(v: Mapping[str, DriverValue]) -> str:
        return f"Using {signal} data from {_days_ago(_num(v, 'age_days'))}; 7-day average used"

    return fmt


def _r_calibrating(v: Mapping[str, DriverValue]) -> str:
    return (
        f"Baseline still calibrating: {_num(v, 'days'):.0f} HRV days so far, "
        f"{_num(v, 'target'):.0f} needed for a {v.get('next', 'provisional')} score"
    )


_RENDERERS: dict[str, Callable[[Mapping[str, DriverValue]], str]] = {
    "illness": _r_illness,
    "hrv_below_range": _r_hrv_below,
    "hrv_unusually_high": _r_hrv_high,
    "hrv_above_range": _r_hrv_above,
    "hrv_in_range": _r_hrv_in,
    "hrv_drop": _r_hrv_drop,
    "rhr_elevated": _r_rhr_elevated,
    "rhr_below_baseline": _r_rhr_below,
    "rhr_at_baseline": _r_rhr_at,
    "sleep_short": _r_sleep_short,
    "sleep_good": _r_sleep_good,
    "sleep_efficiency_low": _r_sleep_eff,
    "sleep_latency_long": _r_sleep_latency,
    "sleep_wakes": _r_sleep_wakes,
    "sleep_debt": _r_sleep_debt,
    "load_spike": _r_load_spike,
    "load_fatigue": _r_load_fatigue,
    "load_balanced": _r_load_ok,
    "stale_hrv": _r_stale("HRV"),
    "stale_rhr": _r_stale("resting HR"),
    "calibrating": _r_calibrating,
}

DRIVER_CODES: tuple[str, ...] = tuple(_RENDERERS)


def render(driver: Driver) -> str:
    """Short sentence for a driver; unknown codes or missing numbers degrade to a plain listing."""
    fmt = _RENDERERS.get(driver.code)
    if fmt is not None:
        try:
            return fmt(driver.values)
        except (KeyError, TypeError, ValueError):
            pass
    listed = ", ".join(f"{k} {v}" for k, v in driver.values.items())
    return f"{driver.code.replace('_', ' ')}" + (f" ({listed})" if listed else "")


# The same facts in words only, for a viewer who may see the readiness score but not the signal
# behind a driver (docs/architecture.md#privacy): each sentence depends on the code alone, so it
# says which way the signal moved the score and never a value, a baseline or the device (SDNN or rMSSD).
# Drivers whose code alone would give a value away (sleep debt: "none" against "high") have no
# entry and are hidden by the privacy policy instead.
_PLAIN: dict[str, str] = {
    "illness": (
        "Possible illness or accumulated strain: resting HR well above baseline "
        "with HRV below your normal range"
    ),
    "hrv_below_range": "HRV below your normal range",
    "hrv_unusually_high": "HRV unusually high; not counted as extra readiness",
    "hrv_above_range": "HRV slightly above your normal range",
    "hrv_in_range": "HRV within your normal range",
    "hrv_drop": "Last night's HRV well below your weekly average",
    "rhr_elevated": "Resting HR above baseline",
    "rhr_below_baseline": "Resting HR below baseline",
    "rhr_at_baseline": "Resting HR at baseline",
    "sleep_short": "Short sleep against your need",
    "sleep_good": "Enough sleep against your need",
    "sleep_efficiency_low": "Low sleep efficiency",
    "sleep_latency_long": "Slow to fall asleep",
    "sleep_wakes": "Woke often during the night",
    "load_spike": "Training load spike",
    "load_fatigue": "Accumulated training fatigue",
    "load_balanced": "Training load balanced",
}

PLAIN_CODES: tuple[str, ...] = tuple(_PLAIN)


def render_plain(code: str) -> str:
    """The driver ``code`` as a sentence without numbers (its name, for a code with no wording)."""
    return _PLAIN.get(code) or code.replace("_", " ").capitalize()


# --------------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------------


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
    status: str | None = None
    hrv_days: int = 0


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


def select_drivers(facts: DayFacts, limit: int = 4) -> tuple[Driver, ...]:
    """The ``limit`` most important facts of the day, worst first (always includes staleness)."""
    cands: list[_Candidate] = []
    add = cands.append
    hrv = {"metric": facts.metric}
    has_range = facts.ln7 is not None and facts.normal_low is not None and facts.normal_high is not None

    if facts.illness and facts.rhr_value is not None and facts.rhr_baseline is not None and has_range:
        add(
            _Candidate(
                _T_ILLNESS,
                math.inf,
                _make(
                    "illness",
                    rhr_delta=float(facts.rhr_value - facts.rhr_baseline),
                    ln7=float(facts.ln7 or 0.0),
                    normal_low=float(facts.normal_low or 0.0),
                    normal_high=float(facts.normal_high or 0.0),
                    **hrv,
                ),
            )
        )

    if has_range and "hrv_balance" in facts.components:
        ln7, low, high = (
            float(facts.ln7 or 0.0),
            float(facts.normal_low or 0.0),
            float(facts.normal_high or 0.0),
        )
        sd = high - low  # the range is mean ± 0.5 SD
        nums = {"ln7": ln7, "normal_low": low, "normal_high": high}
        if ln7 < low:
            add(_Candidate(_T_NEG, _lost(facts, "hrv_balance"), _make("hrv_below_range", **nums, **hrv)))
        elif ln7 > high + 0.5 * sd:
            add(_Candidate(_T_FLAG, 0.0, _make("hrv_unusually_high", **nums, **hrv)))
        elif ln7 > high:
            add(_Candidate(_T_OK, 0.3, _make("hrv_above_range", **nums, **hrv)))
        else:
            add(_Candidate(_T_OK, 0.3, _make("hrv_in_range", **nums, **hrv)))

        value = facts.hrv_value
        if value is not None and not facts.hrv_stale and sd > 0 and "last_night_hrv" in facts.components:
            drop_sd = (value - ln7) / sd
            if drop_sd < -1.0:
                sev = _lost(facts, "last_night_hrv")
                add(
                    _Candidate(
                        _neg(sev), sev, _make("hrv_drop", value=float(value), ln7=ln7, drop_sd=drop_sd, **hrv)
                    )
                )

    if facts.rhr_value is not None and facts.rhr_baseline is not None and "resting_hr" in facts.components:
        delta = facts.rhr_value - facts.rhr_baseline
        nums = {"value": float(facts.rhr_value), "baseline": float(facts.rhr_baseline), "delta": float(delta)}
        if delta >= 1.0:
            sev = _lost(facts, "resting_hr")
            add(_Candidate(_T_NEG if delta >= 3.0 else _T_MINOR, sev, _make("rhr_elevated", **nums)))
        elif delta <= -1.0:
            add(_Candidate(_T_OK, 0.2, _make("rhr_below_baseline", **nums)))
        else:
            add(_Candidate(_T_OK, 0.2, _make("rhr_at_baseline", **nums)))

    if facts.sleep_min is not None and "sleep" in facts.components:
        need = facts.sleep_need_min
        sleep_bad = False
        if facts.sleep_min < 0.9 * need:
            sev = _lost(facts, "sleep", 0.6)
            add(_Candidate(_neg(sev), sev, _make("sleep_short", minutes=float(facts.sleep_min), need=need)))
            sleep_bad = True
        if facts.efficiency_pct is not None and facts.efficiency_pct < 85.0:
            sev = _lost(facts, "sleep", 0.2) + 0.01
            add(
                _Candidate(
                    _neg(sev), sev, _make("sleep_efficiency_low", efficiency=float(facts.efficiency_pct))
                )
            )
            sleep_bad = True
        if facts.latency_min is not None and facts.latency_min > 30.0:
            sev = _lost(facts, "sleep", 0.1) + 0.01
            add(_Candidate(_neg(sev), sev, _make("sleep_latency_long", latency=float(facts.latency_min))))
            sleep_bad = True
        if facts.wake_count is not None and facts.wake_count >= 5:
            sev = _lost(facts, "sleep", 0.15) + 0.01
            add(_Candidate(_neg(sev), sev, _make("sleep_wakes", wakes=float(facts.wake_count))))
            sleep_bad = True
        if not sleep_bad and facts.sleep_min >= 0.95 * need:
            add(_Candidate(_T_OK, 0.15, _make("sleep_good", minutes=float(facts.sleep_min), need=need)))

    if facts.debt_hours is not None and facts.debt_category is not None and "sleep_debt" in facts.components:
        fact = _make("sleep_debt", hours=float(facts.debt_hours), category=facts.debt_category)
        if facts.debt_category in ("moderate", "high"):
            sev = _lost(facts, "sleep_debt")
            add(_Candidate(_T_NEG, max(sev, 1.0), fact))
        elif facts.debt_category == "low":
            add(_Candidate(_T_MINOR, _lost(facts, "sleep_debt"), fact))
        else:
            add(_Candidate(_T_OK, 0.1, fact))

    if facts.acwr is not None and "training_load" in facts.components:
        acute, chronic = facts.load_acute, facts.load_chronic
        sev = _lost(facts, "training_load")
        tsb_rel = None
        if acute is not None and chronic is not None and chronic > 0:
            tsb_rel = (chronic - acute) / chronic
        if facts.acwr >= 1.3:
            add(
                _Candidate(
                    _T_NEG if facts.acwr >= 1.5 else _T_MINOR, sev, _make("load_spike", acwr=facts.acwr)
                )
            )
        elif tsb_rel is not None and tsb_rel < -0.25 and acute is not None and chronic is not None:
            add(
                _Candidate(
                    _neg(sev),
                    sev,
                    _make(
                        "load_fatigue", acute=float(acute), chronic=float(chronic), tsb=float(chronic - acute)
                    ),
                )
            )
        elif facts.acwr >= 0.8:
            add(_Candidate(_T_OK, 0.05, _make("load_balanced", acwr=facts.acwr)))

    stale: list[_Candidate] = []
    if facts.hrv_stale and facts.hrv_age_days is not None:
        stale.append(
            _Candidate(_T_STALE, float(facts.hrv_age_days), _make("stale_hrv", age_days=facts.hrv_age_days))
        )
    if facts.rhr_stale and facts.rhr_age_days is not None:
        stale.append(
            _Candidate(_T_STALE, float(facts.rhr_age_days), _make("stale_rhr", age_days=facts.rhr_age_days))
        )
    cands.extend(stale)

    if facts.status == "calibrating":
        add(
            _Candidate(_T_INFO, 0.0, _make("calibrating", days=facts.hrv_days, target=21, next="provisional"))
        )

    cands.sort(key=lambda c: (c.tier, -c.severity))
    chosen = cands[:limit]
    # Staleness must always be visible: it qualifies every other number on the card.
    for cand in stale:
        if cand not in chosen and chosen:
            for i in range(len(chosen) - 1, -1, -1):
                if chosen[i].tier != _T_STALE and chosen[i].tier != _T_ILLNESS:
                    chosen[i] = cand
                    break
    chosen.sort(key=lambda c: (c.tier, -c.severity))
    return tuple(c.driver for c in chosen)
