"""Scoring curves: each contributor's 0–100 score as a piecewise-linear function.

See docs/readiness.md#components. Every curve scores about 75 at the athlete's own baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ACWR_CURVE",
    "DEBT_CURVE",
    "EFFICIENCY_CURVE",
    "HRV_BALANCE_CURVE",
    "LAST_NIGHT_CURVE",
    "LATENCY_CURVE",
    "LOAD_PART_WEIGHTS",
    "RHR_CURVE",
    "SLEEP_DURATION_CURVE",
    "SLEEP_PART_WEIGHTS",
    "TSB_CURVE",
    "WAKES_CURVE",
    "Curve",
]


@dataclass(frozen=True)
class Curve:
    """Piecewise-linear score curve through ``(xp, fp)``, flat beyond the end knots.

    Evaluated as a sum of clipped ramps rather than ``np.interp``: several times faster on
    large arrays (no per-element binary search), and monotone wherever the knots are, because
    each ramp is monotone and float addition preserves order. NaN in → NaN out.
    """

    xp: tuple[float, ...]
    fp: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.xp) != len(self.fp) or len(self.xp) < 2:
            raise ValueError("a curve needs matching xp/fp with at least two knots")
        if any(b <= a for a, b in zip(self.xp, self.xp[1:], strict=False)):
            raise ValueError("curve knots must be strictly increasing")
        if all(a == b for a, b in zip(self.fp, self.fp[1:], strict=False)):
            raise ValueError("a flat curve would not propagate NaN")

    def __call__(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        # f(x) = fp[0] + Σ slope_k · (clip(x, x_k, x_k+1) − x_k); the −slope_k·x_k terms are
        # folded into the starting constant so each segment costs three array passes.
        segments = [
            (x0, x1, (y1 - y0) / (x1 - x0))
            for x0, x1, y0, y1 in zip(self.xp, self.xp[1:], self.fp, self.fp[1:], strict=False)
            if y1 != y0
        ]
        out = np.full(x.shape, float(self.fp[0]) - sum(slope * x0 for x0, _, slope in segments))
        tmp = np.empty(x.shape)
        for x0, x1, slope in segments:
            np.clip(x, x0, x1, out=tmp)
            tmp *= slope
            out += tmp
        return out

    def at(self, x: float) -> float:
        """Scalar evaluation (same arithmetic as the vectorised path)."""
        return float(self(np.array([x], dtype=np.float64))[0])


# z = (7-day ln HRV − 60-day mean) / 60-day SD; the normal range is |z| ≤ 0.5. Above the range
# the curve plateaus and then declines ("unbalanced"), so high HRV never buys readiness.
HRV_BALANCE_CURVE = Curve(
    (-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0),
    (5.0, 18.0, 30.0, 48.0, 70.0, 77.0, 80.0, 80.0, 74.0, 70.0),
)
# (last night − 7-day mean) / 60-day SD. Flat above +0.5: a single high night is no signal.
LAST_NIGHT_CURVE = Curve(
    (-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5),
    (10.0, 30.0, 45.0, 62.0, 72.0, 76.0, 78.0),
)
# Resting HR − baseline, bpm.
RHR_CURVE = Curve(
    (-6.0, -3.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0),
    (95.0, 88.0, 80.0, 77.0, 75.0, 72.0, 66.0, 56.0, 42.0, 22.0, 8.0, 0.0),
)
SLEEP_DURATION_CURVE = Curve(
    (0.5, 0.6, 0.75, 0.875, 0.95, 1.0, 1.1), (5.0, 20.0, 45.0, 65.0, 75.0, 85.0, 95.0)
)
EFFICIENCY_CURVE = Curve((50.0, 65.0, 75.0, 85.0, 92.0, 100.0), (0.0, 25.0, 50.0, 80.0, 95.0, 100.0))
LATENCY_CURVE = Curve((0.0, 15.0, 30.0, 45.0, 60.0, 90.0), (95.0, 90.0, 75.0, 45.0, 25.0, 5.0))
WAKES_CURVE = Curve((0.0, 1.0, 3.0, 5.0, 8.0, 12.0), (95.0, 90.0, 78.0, 60.0, 35.0, 10.0))
SLEEP_PART_WEIGHTS: dict[str, float] = {"duration": 0.55, "efficiency": 0.20, "latency": 0.10, "wakes": 0.15}
DEBT_CURVE = Curve((0.0, 0.25, 2.0, 5.0, 8.0, 12.0, 20.0), (95.0, 90.0, 75.0, 55.0, 35.0, 15.0, 5.0))
ACWR_CURVE = Curve((0.0, 0.5, 0.8, 1.0, 1.3, 1.5, 2.0, 3.0), (60.0, 68.0, 82.0, 85.0, 80.0, 50.0, 25.0, 10.0))
# (42-day mean − 7-day mean) / 42-day mean: fresh is good, very fresh means detraining.
TSB_CURVE = Curve((-1.0, -0.5, -0.25, 0.0, 0.15, 0.3, 1.0), (20.0, 40.0, 60.0, 75.0, 88.0, 90.0, 80.0))
LOAD_PART_WEIGHTS: dict[str, float] = {"acwr": 0.6, "tsb": 0.4}
