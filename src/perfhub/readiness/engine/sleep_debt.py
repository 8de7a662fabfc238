"""Sleep debt: the recent-weighted shortfall of sleep against the athlete's need (docs/readiness.md).

The need (:func:`daily_need`) is the athlete's own setting when they made one; otherwise it is
estimated per day from their own nights:

* the mean of the nights of the ``NEED_WINDOW`` (60) days before the day, night ``d`` itself left
  out so that a night never lowers the need it is judged against;
* only with at least ``NEED_MIN_NIGHTS`` (14) of them present, else ``DEFAULT_SLEEP_NEED_MIN``
  (480 min): two weeks say what someone habitually sleeps, a few nights do not;
* clamped to [``NEED_FLOOR_MIN``, ``NEED_CEILING_MIN``] (6 h to 10 h) and rounded half up to
  ``NEED_STEP_MIN`` (5 min), so that the need shown does not creep by a minute a day.

A run of restricted nights lowers the estimate, deliberately only a little: it is a plain mean
over up to 60 nights, so ``k`` nights ``r`` minutes short lower it by ``k·r / n`` (``n`` nights
present). With two months of nights a week of restriction still shows ~95 % of the debt it would
against a fixed need, a fortnight ~86 %: the nudge still comes, and a restriction that lasts for
months does become the new habit. A median or a trimmed mean would resist more, but neither is a
difference of cumulative sums. The weak spot is a new athlete with barely 14 nights, where each
short night weighs 1/14; there the estimate has only just replaced the 480-min guess.
The estimate uses the nights of one window only and its sums are exact (nights quantised to
1/64 min), so it depends bit for bit on nothing older than 60 days (the engine's bounded memory).

Debt (Oura's sleep-debt model, categories from Oura's "none / low / moderate / high"):

* A night's shortfall is ``need − duration`` in hours, against the need in force that night. A
  surplus (negative shortfall) pays debt back, but at most ``SURPLUS_CAP_MIN`` per night, so one
  very long lie-in cannot erase two weeks of short nights.
* The last ``DEBT_WINDOW`` nights ending on the day (inclusive) are weighted linearly: last night
  1, each earlier night 1/14 less (13 nights back: 1/14). A linear ramp is a difference of two
  cumulative sums, so it vectorises exactly without a loop over the window.
* A missing night is *missing*, never zero sleep: the debt is the weighted mean shortfall of the
  nights present, scaled to the full weight of the window (as if the missing nights had been like
  the weighted average of the present ones). For a constant nightly shortfall ``s`` the debt is
  ``s × DEBT_WEIGHT_TOTAL`` (7.5 s) whatever the coverage: 14 nights of 6 h against 8 h is 15 h.
* At least ``DEBT_MIN_NIGHTS`` of the 14 nights must be present, else the debt is NaN.
* The debt is never negative.

Everything is vectorised over athletes × days.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.engine.windows import csum

__all__ = [
    "DEBT_CATEGORIES",
    "DEBT_MIN_NIGHTS",
    "DEBT_WEIGHTS",
    "DEBT_WEIGHT_TOTAL",
    "DEBT_WINDOW",
    "DEFAULT_SLEEP_NEED_MIN",
    "NEED_CEILING_MIN",
    "NEED_FLOOR_MIN",
    "NEED_MIN_NIGHTS",
    "NEED_STEP_MIN",
    "NEED_WINDOW",
    "SURPLUS_CAP_MIN",
    "category_codes",
    "category_for",
    "compute_debt",
    "daily_need",
]

DEBT_CATEGORIES: tuple[str, ...] = ("none", "low", "moderate", "high")
DEFAULT_SLEEP_NEED_MIN = 480.0
DEBT_WINDOW = 14
DEBT_MIN_NIGHTS = 5
SURPLUS_CAP_MIN = 120.0

# The estimated need (daily_need).
NEED_WINDOW = 60
NEED_MIN_NIGHTS = 14
NEED_FLOOR_MIN = 360.0
NEED_CEILING_MIN = 600.0
NEED_STEP_MIN = 5.0
# Nights are summed in 1/64 min: whole numbers, so a window's sum is exact whatever came before.
_NEED_QUANTUM = 64.0

# Category edges in hours. "none" is a small tolerance band around 0 h rather than exactly 0,
# because a weighted average of real nights is almost never exactly zero.
NONE_BELOW_H = 0.25
LOW_BELOW_H = 2.0
MODERATE_UP_TO_H = 5.0

# Lag k = 0 is the night ending on the day itself.
DEBT_WEIGHTS: tuple[float, ...] = tuple((DEBT_WINDOW - k) / DEBT_WINDOW for k in range(DEBT_WINDOW))
DEBT_WEIGHT_TOTAL: float = math.fsum(DEBT_WEIGHTS)


def category_for(hours: float) -> str:
    """Category name for a debt in hours; raises ``ValueError`` for NaN (no debt computable)."""
    if hours is None or math.isnan(hours):
        raise ValueError("sleep debt is not available (fewer than 5 of 14 nights)")
    return DEBT_CATEGORIES[_category_index(hours)]


def _category_index(hours: float) -> int:
    return int(hours >= NONE_BELOW_H) + int(hours >= LOW_BELOW_H) + int(hours > MODERATE_UP_TO_H)


def category_codes(debt_hours: NDArray[np.float64]) -> NDArray[np.int8]:
    """Vectorised :func:`category_for`: codes into ``DEBT_CATEGORIES``, −1 where the debt is NaN."""
    codes = (debt_hours >= NONE_BELOW_H).astype(np.int8)
    codes += debt_hours >= LOW_BELOW_H
    codes += debt_hours > MODERATE_UP_TO_H
    codes[np.isnan(debt_hours)] = -1
    return codes


def daily_need(sleep_min: NDArray[np.float64], set_need_min: NDArray[np.float64]) -> NDArray[np.float64]:
    """The sleep need in force on every athlete-day, in minutes (see the module's docstring).

    ``sleep_min`` is (A, D) with NaN for a missing night; ``set_need_min`` is (A,): a value > 0 is
    the athlete's own setting and is used on every day, ≤ 0 or NaN means "estimate it from my
    nights". Returns an (A, D) float array; day ``d`` depends only on nights ``d − 60 … d − 1``.
    """
    sleep = np.asarray(sleep_min, dtype=np.float64)
    if sleep.ndim != 2:
        raise ValueError("sleep_min must be (athletes, days)")
    athletes, days = sleep.shape
    chosen = np.asarray(set_need_min, dtype=np.float64).reshape(-1)
    if chosen.shape != (athletes,):
        raise ValueError("set_need_min must be (athletes,)")

    valid = ~np.isnan(sleep)
    # csum's column d holds the nights before day d, so [d − W, d) is the window without night d.
    total = csum(np.where(valid, np.round(sleep * _NEED_QUANTUM), 0.0))[:, :days]
    nights = csum(valid, dtype=np.int32)[:, :days]
    total[:, NEED_WINDOW:] -= total[:, :-NEED_WINDOW].copy()
    nights[:, NEED_WINDOW:] -= nights[:, :-NEED_WINDOW].copy()

    ok = nights >= NEED_MIN_NIGHTS
    need = np.full((athletes, days), DEFAULT_SLEEP_NEED_MIN)
    np.divide(total, nights * _NEED_QUANTUM, out=need, where=ok)
    np.clip(need, NEED_FLOOR_MIN, NEED_CEILING_MIN, out=need)
    # Half up, like the scores: np.round would send 432.5 to 430 and 437.5 to 440.
    need /= NEED_STEP_MIN
    need += 0.5
    np.floor(need, out=need)
    need *= NEED_STEP_MIN
    own = chosen > 0
    need[own] = chosen[own, None]
    return need


def compute_debt(
    sleep_min: NDArray[np.float64], need_min: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Sleep debt in hours and its category code for every athlete-day.

    ``sleep_min`` is (A, D) with NaN for a missing night. ``need_min`` is either the need in force
    on each day, (A, D) and > 0 everywhere (what :func:`daily_need` returns), or the athletes'
    settings, (A,), where ≤ 0 or NaN means "estimated from the nights" (:func:`daily_need` is then
    called here). Each night's shortfall is against the need of that night. Returns
    ``(debt_hours, category)``: debt NaN where fewer than 5 of the 14 nights are present,
    category −1 there and otherwise a code into ``DEBT_CATEGORIES``.
    """
    sleep = np.asarray(sleep_min, dtype=np.float64)
    if sleep.ndim != 2:
        raise ValueError("sleep_min must be (athletes, days)")
    athletes, days = sleep.shape
    need = np.asarray(need_min, dtype=np.float64)
    if need.ndim == 2:
        if need.shape != sleep.shape:
            raise ValueError("a daily need_min must be (athletes, days), like sleep_min")
        if not np.all(need > 0):
            raise ValueError("a daily need_min must be > 0 on every day")
    else:
        need = need.reshape(-1)
        if need.shape != (athletes,):
            raise ValueError("need_min must be (athletes,) or (athletes, days)")
        # Every athlete's own setting: one need per row, with no estimate to compute.
        need = need[:, None] if np.all(need > 0) else daily_need(sleep, need)

    valid = ~np.isnan(sleep)
    shortfall = need - sleep
    np.maximum(shortfall, -SURPLUS_CAP_MIN, out=shortfall)
    shortfall /= 60.0
    shortfall[~valid] = 0.0
    present = valid.astype(np.float64)

    # Night j weighs (j − d + W) / W on day d, so a weighted window sum is
    # (Σ j·x_j − (d − W)·Σ x_j) / W over the window: four cumulative sums, no loop over lags.
    j = np.arange(days, dtype=np.float64)
    offset = j - DEBT_WINDOW  # (d − W) per column d
    num = _window(shortfall * j) - offset * _window(shortfall)
    nights = _window(present)
    den = _window(present * j) - offset * nights

    debt = np.full((athletes, days), np.nan)
    ok = nights >= DEBT_MIN_NIGHTS
    np.divide(num, den, out=debt, where=ok)
    debt *= DEBT_WEIGHT_TOTAL
    np.maximum(debt, 0.0, out=debt)
    return debt, category_codes(debt)


def _window(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum over the last ``DEBT_WINDOW`` days ending on each day (inclusive)."""
    c = np.cumsum(x, axis=1)
    c[:, DEBT_WINDOW:] -= c[:, :-DEBT_WINDOW].copy()
    return c
