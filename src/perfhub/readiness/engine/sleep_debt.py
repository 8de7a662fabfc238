"""Sleep debt: the recent-weighted shortfall of sleep against the athlete's need (docs/readiness.md).

Rule (Oura's sleep-debt model, categories from Oura's "none / low / moderate / high"):

* A night's shortfall is ``need − duration`` in hours. A surplus (negative shortfall) pays debt
  back, but at most ``SURPLUS_CAP_MIN`` per night, so one very long lie-in cannot erase two weeks
  of short nights.
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

__all__ = [
    "DEBT_CATEGORIES",
    "DEBT_MIN_NIGHTS",
    "DEBT_WEIGHTS",
    "DEBT_WEIGHT_TOTAL",
    "DEBT_WINDOW",
    "DEFAULT_SLEEP_NEED_MIN",
    "SURPLUS_CAP_MIN",
    "category_codes",
    "category_for",
    "compute_debt",
]

DEBT_CATEGORIES: tuple[str, ...] = ("none", "low", "moderate", "high")
DEFAULT_SLEEP_NEED_MIN = 480.0
DEBT_WINDOW = 14
DEBT_MIN_NIGHTS = 5
SURPLUS_CAP_MIN = 120.0

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


def compute_debt(
    sleep_min: NDArray[np.float64], need_min: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Sleep debt in hours and its category code for every athlete-day.

    ``sleep_min`` is (A, D) with NaN for a missing night, ``need_min`` is (A,) (NaN or ≤ 0 falls
    back to 480 min). Returns ``(debt_hours, category)``: debt NaN where fewer than 5 of the 14
    nights are present, category −1 there and otherwise a code into ``DEBT_CATEGORIES``.
    """
    sleep = np.asarray(sleep_min, dtype=np.float64)
    if sleep.ndim != 2:
        raise ValueError("sleep_min must be (athletes, days)")
    athletes, days = sleep.shape
    need = np.asarray(need_min, dtype=np.float64).reshape(-1)
    if need.shape != (athletes,):
        raise ValueError("need_min must be (athletes,)")
    need = np.where(need > 0, need, DEFAULT_SLEEP_NEED_MIN)

    valid = ~np.isnan(sleep)
    shortfall = need[:, None] - sleep
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
