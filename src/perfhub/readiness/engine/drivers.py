"""Readiness drivers: structured facts (a code and its numbers) and their rendering.

Drivers are stored as facts so that wording can change (or be translated) without recomputing
history; :func:`render` turns one into a short sentence naming the signal, its value and its
baseline (docs/readiness.md). :mod:`.selection` picks the 1–4 most important facts of a day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DRIVER_CODES",
    "PLAIN_CODES",
    "Driver",
    "driver_from_json",
    "driver_to_json",
    "make_driver",
    "render",
    "render_plain",
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


def make_driver(code: str, **values: DriverValue) -> Driver:
    """A driver with its float values rounded as stored."""
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
    # Ages past a week are stored as 8: the engine does not look further back for them.
    return "yesterday" if d == 1 else "more than a week ago" if d > 7 else f"{d} days ago"


def _since(days: float) -> str:
    d = round(days)
    return "since today" if d == 0 else "since yesterday" if d == 1 else f"for {d} days"


def _r_illness(v: Mapping[str, DriverValue]) -> str:
    delta = _bpm(_num(v, "rhr_delta"))
    head = f"Possible illness or accumulated strain: resting HR {delta} bpm above baseline"
    if "night_sd" in v:
        # The onset: the newest night is already low while the weekly mean has not moved yet.
        return (
            f"{head} with last night's HRV {abs(_num(v, 'night_sd')):.1f} SD below your baseline "
            f"({_ln(v)} {_num(v, 'value'):.2f}, {_range(v)})"
        )
    return f"{head} with HRV below your normal range (7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)})"


def _r_overreaching(v: Mapping[str, DriverValue]) -> str:
    return (
        f"HRV trending below your baseline over the last {_num(v, 'nights'):.0f} nights "
        f"(7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)}): possible overreaching, "
        "an easier day or two helps"
    )


def _r_hrv_below(v: Mapping[str, DriverValue]) -> str:
    return f"HRV below your normal range (7-day {_ln(v)} {_num(v, 'ln7'):.2f}, {_range(v)})"


def _r_hrv_high(v: Mapping[str, DriverValue]) -> str:
    night = f"last night {_ln(v)} {_num(v, 'value'):.2f}, " if "value" in v else ""
    return (
        f"HRV unusually high with resting HR normal ({night}7-day {_num(v, 'ln7'):.2f}, {_range(v)}); "
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


def _r_stale_hrv(v: Mapping[str, DriverValue]) -> str:
    return (
        f"No HRV reading for last night (latest {_days_ago(_num(v, 'age_days'))}); "
        "scored without it, on your 7-day average"
    )


def _r_stale_rhr(v: Mapping[str, DriverValue]) -> str:
    used = "that value used" if round(_num(v, "age_days")) <= 1 else "7-day average used"
    return f"No resting HR for last night (latest {_days_ago(_num(v, 'age_days'))}); {used}"


def _r_source_changed(v: Mapping[str, DriverValue]) -> str:
    nights = round(_num(v, "nights"))
    if nights < round(_num(v, "needed")):
        needed = f"{_num(v, 'needed'):.0f}th"
        basis = f"HRV counts again from its {needed} night; until then resting HR and sleep decide"
    else:
        basis = "its normal range is still settling"
    return (
        f"HRV comes from a new device {_since(_num(v, 'days'))} ({nights} nights): "
        f"it reads differently, so its baseline starts afresh; {basis}"
    )


def _r_calibrating(v: Mapping[str, DriverValue]) -> str:
    return (
        f"Baseline still calibrating: {_num(v, 'days'):.0f} HRV days so far, "
        f"{_num(v, 'target'):.0f} needed for a {v.get('next', 'provisional')} score"
    )


_RENDERERS: dict[str, Callable[[Mapping[str, DriverValue]], str]] = {
    "illness": _r_illness,
    "overreaching": _r_overreaching,
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
    "stale_hrv": _r_stale_hrv,
    "stale_rhr": _r_stale_rhr,
    "source_changed": _r_source_changed,
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
    "overreaching": "HRV trending below your baseline: possible overreaching",
    "hrv_below_range": "HRV below your normal range",
    "hrv_unusually_high": "HRV unusually high with resting HR normal; not counted as extra readiness",
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
