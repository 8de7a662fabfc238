"""Explainable daily readiness from ln HRV, resting HR, sleep and training load (docs/readiness.md).

Pure and vectorised: :func:`compute_batch` takes an athletes × days block (:class:`SeriesBatch`)
and returns every intermediate as arrays (:class:`ReadinessArrays`); :func:`snapshot` reads one
athlete-day out of them and attaches drivers. The single-day path (after an event) is the same
code on a one-athlete batch, so batch and single-day results are identical by construction.

Rules (day ``d`` of an athlete; "segment" = the run of days sharing one HRV source and metric):

* Missing values are NaN and never count as zero; every HRV/RHR window is restricted to the
  day's segment. A segment starts wherever ``segment`` changes, and also at the first reading
  whose metric (rMSSD ↔ SDNN) differs from the previous reading of the same segment, so the
  two measures can never share a baseline even if the caller forgot to split them.
* 7-day HRV: mean of ln HRV over days d−6…d, valid with ≥ 3 readings (Plews et al. 2014).
* Normal range: mean ± 0.5 SD of days d−60…d−1 (HRV4Training; 0.5 SD ≈ smallest worthwhile
  change), SD floored at 0.05 ln units, usable with ≥ ``BASELINE_MIN_READINGS`` (4) readings.
* Resting HR baseline: mean of days d−60…d−1, ≥ 4 readings.
* Staleness, in days because readings are attributed to the wake-up date: a reading dated d or
  d−1 is at most ~30 h old on the morning of d; one dated d−2 or earlier is older than 36 h. Then
  the signal is *stale*: its 7-day moving average (≥ 3 readings) stands in for last night's
  value, ``stale`` is set and a driver states the age. For fresh data, last night's value is the
  latest reading (today's, else yesterday's).
* Contributors are piecewise-linear curves (:class:`Curve`) scoring 0–100, ~75 at the
  athlete's own baseline. HRV balance is two-sided (Kiviniemi 2007, Vesterinen 2016): above the
  range it never scores more than inside it. Last-night HRV is scored against the 7-day mean in
  units of the 60-day SD; drops beyond 1 SD cost steeply (Kiviniemi 2007). Resting HR costs from
  +3 bpm, strongly from +5 (Oura, Polar). Sleep: duration vs need, efficiency ≥ 85 %, latency
  ≤ 30 min, wakes (Ohayon 2017). Sleep debt: :mod:`perfhub.readiness.sleep_debt`. Training load,
  only once logged: ACWR 7/28-day (Gabbett 2016, soft) and TSB = 42-day − 7-day mean load
  (Banister/PMC), relative to the 42-day mean so that load units do not matter.
* Readiness = weighted mean of the contributors present (``WEIGHTS``, renormalised). Override:
  resting HR ≥ +5 bpm together with the 7-day HRV below range caps it at 39.
* No score when: no signal ever up to d (``no_data``); no HRV/RHR/sleep reading for more than 7
  days, or none of the physiological contributors (HRV balance, last-night HRV, resting HR,
  sleep) computable — sleep debt and load alone do not make a score (``no_recent_data``); < 4
  valid HRV days in the segment (``calibrating``). Otherwise status calibrating (4–20 HRV days),
  provisional (21–59), full (≥ 60).

Vectorisation: rolling windows are differences of cumulative sums; the per-day lower window
edge (clipped to the segment start) is gathered with ``take_along_axis``. Athletes are processed
in blocks (memory stays bounded and blocks run on a thread pool, numpy releasing the GIL); every
operation is row-local, so a row's result does not depend on which other rows share its block.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.drivers import DayFacts, Driver, driver_to_json, render, select_drivers
from perfhub.readiness.sleep_debt import DEBT_CATEGORIES, DEFAULT_SLEEP_NEED_MIN, compute_debt

__all__ = [
    "ALGORITHM_VERSION",
    "BAND_NAMES",
    "CONTRIBUTORS",
    "REASON_NAMES",
    "STATUS_NAMES",
    "WEIGHTS",
    "Component",
    "Curve",
    "ReadinessArrays",
    "ReadinessSnapshot",
    "SeriesBatch",
    "band_codes",
    "band_for",
    "compute_batch",
    "inputs_hash",
    "round_score",
    "snapshot",
]

ALGORITHM_VERSION = "1.0.0"

CONTRIBUTORS: tuple[str, ...] = (
    "hrv_balance",
    "last_night_hrv",
    "resting_hr",
    "sleep",
    "sleep_debt",
    "training_load",
)
WEIGHTS: dict[str, float] = {
    "hrv_balance": 0.30,
    "last_night_hrv": 0.10,
    "resting_hr": 0.20,
    "sleep": 0.20,
    "sleep_debt": 0.10,
    "training_load": 0.10,
}

BAND_NAMES: tuple[str, ...] = ("low", "reduced", "normal", "elevated")
STATUS_NAMES: tuple[str, ...] = ("calibrating", "provisional", "full")
# Code 0 means "scored"; the others say why there is no score.
REASON_NAMES: tuple[str, ...] = ("", "calibrating", "no_data", "no_recent_data")
REASON_NONE, REASON_CALIBRATING, REASON_NO_DATA, REASON_NO_RECENT = 0, 1, 2, 3

# Window rules (docs/readiness.md); see the module docstring for their sources.
HRV_WINDOW = 7
HRV_MIN_READINGS = 3
BASELINE_WINDOW = 60
BASELINE_MIN_READINGS = 4
SD_FLOOR = 0.05
RANGE_HALF_WIDTH_SD = 0.5
STALE_AFTER_DAYS = 2
NO_RECENT_AFTER_DAYS = 7
MIN_HRV_DAYS = 4
PROVISIONAL_HRV_DAYS = 21
FULL_HRV_DAYS = 60
ILLNESS_RHR_DELTA = 5.0
ILLNESS_CAP = 39.0
ACUTE_DAYS = 7
CHRONIC_DAYS = 28
CTL_DAYS = 42
# ACWR needs a chronic window; three weeks of logging is the least that makes 7:28 meaningful.
LOAD_MIN_HISTORY_DAYS = 21


# --------------------------------------------------------------------------------------------
# Bands
# --------------------------------------------------------------------------------------------


def round_score(score: float) -> int:
    """Round half up, the single rounding used for displayed scores and their bands."""
    return math.floor(score + 0.5)


def band_for(score: float) -> str:
    """Band of a readiness score: low 0–39 · reduced 40–64 · normal 65–84 · elevated 85–100.

    The score is rounded first (:func:`round_score`) so the band always matches the displayed
    integer. This is the single source of truth for API, UI and plan adjustment.
    """
    if score is None or math.isnan(score):
        raise ValueError("no score, no band")
    r = round_score(score)
    return BAND_NAMES[int(r >= 40) + int(r >= 65) + int(r >= 85)]


def band_codes(score: NDArray[np.float64]) -> NDArray[np.int8]:
    """Vectorised :func:`band_for`: codes into ``BAND_NAMES``, −1 where the score is NaN."""
    r = np.floor(score + 0.5)
    codes = (r >= 40).astype(np.int8)
    codes += r >= 65
    codes += r >= 85
    codes[np.isnan(score)] = -1
    return codes


# --------------------------------------------------------------------------------------------
# Scoring curves
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------------------------

_FLOAT_INPUTS = (
    "ln_hrv",
    "resting_hr",
    "sleep_min",
    "efficiency_pct",
    "latency_min",
    "wake_count",
    "load",
)


@dataclass(frozen=True, eq=False)
class SeriesBatch:
    """athletes × days block of daily inputs; column 0 is ``start``; NaN means missing (never zero).

    ``segment`` ids should be carried forward over days without readings; a new segment starts
    wherever the id changes between consecutive days. ``load`` is the day's training load; an
    athlete whose ``load`` is NaN on every day logs no training. Once an athlete has logged load,
    a later NaN day counts as a rest day (0): no session logged means no training.
    """

    start: datetime.date
    ln_hrv: NDArray[np.float64]
    hrv_is_sdnn: NDArray[np.bool_]
    resting_hr: NDArray[np.float64]
    sleep_min: NDArray[np.float64]
    efficiency_pct: NDArray[np.float64]
    latency_min: NDArray[np.float64]
    wake_count: NDArray[np.float64]
    load: NDArray[np.float64]
    segment: NDArray[np.int64]
    sleep_need_min: NDArray[np.float64]

    def __post_init__(self) -> None:
        shape = np.shape(self.ln_hrv)
        if len(shape) != 2:
            raise ValueError("ln_hrv must be (athletes, days)")
        for name in _FLOAT_INPUTS:
            object.__setattr__(self, name, _as(getattr(self, name), np.float64, shape, name))
        object.__setattr__(self, "hrv_is_sdnn", _as(self.hrv_is_sdnn, np.bool_, shape, "hrv_is_sdnn"))
        object.__setattr__(self, "segment", _as(self.segment, np.int64, shape, "segment"))
        need = _as(self.sleep_need_min, np.float64, (shape[0],), "sleep_need_min")
        object.__setattr__(self, "sleep_need_min", need)

    @classmethod
    def empty(cls, athletes: int, days: int, start: datetime.date) -> SeriesBatch:
        """All-NaN inputs, segment 0 everywhere, sleep need 480 min."""

        def nan() -> NDArray[np.float64]:
            return np.full((athletes, days), np.nan)

        return cls(
            start=start,
            ln_hrv=nan(),
            hrv_is_sdnn=np.zeros((athletes, days), dtype=np.bool_),
            resting_hr=nan(),
            sleep_min=nan(),
            efficiency_pct=nan(),
            latency_min=nan(),
            wake_count=nan(),
            load=nan(),
            segment=np.zeros((athletes, days), dtype=np.int64),
            sleep_need_min=np.full(athletes, DEFAULT_SLEEP_NEED_MIN),
        )

    @property
    def athletes(self) -> int:
        return int(self.ln_hrv.shape[0])

    @property
    def days(self) -> int:
        return int(self.ln_hrv.shape[1])

    def date_of(self, day: int) -> datetime.date:
        return self.start + datetime.timedelta(days=int(day))

    def day_index(self, date: datetime.date) -> int:
        """Column of ``date``; raises ``IndexError`` outside the batch."""
        day = (date - self.start).days
        if not 0 <= day < self.days:
            raise IndexError(f"{date} is outside {self.start} + {self.days} days")
        return day

    def subset(self, athletes: Sequence[int] | slice) -> SeriesBatch:
        """A batch of the selected athletes (rows copied), same dates."""
        rows: Any = athletes if isinstance(athletes, slice) else np.asarray(athletes, dtype=np.intp)
        kwargs: dict[str, Any] = {"start": self.start}
        for f in fields(self):
            if f.name != "start":
                kwargs[f.name] = np.array(getattr(self, f.name)[rows])
        return SeriesBatch(**kwargs)


def _as(value: Any, dtype: type, shape: tuple[int, ...], name: str) -> Any:
    arr: NDArray[Any] = np.asarray(value, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


@dataclass(eq=False)
class ReadinessArrays:
    """Every intermediate of :func:`compute_batch`; all (A, D) unless noted.

    Ages are days since the latest reading (−1 = never). ``hrv_value``/``rhr_value`` are the
    values actually scored (last night's reading, or the 7-day mean when stale).
    """

    score: NDArray[np.float64]  # NaN when no score
    band: NDArray[np.int8]  # → BAND_NAMES, −1 when no score
    status: NDArray[np.int8]  # → STATUS_NAMES, −1 when no score
    reason: NDArray[np.int8]  # → REASON_NAMES, 0 when scored
    stale: NDArray[np.bool_]
    components: NDArray[np.float64]  # (A, D, 6) in CONTRIBUTORS order, NaN when absent
    ln7: NDArray[np.float64]
    normal_low: NDArray[np.float64]
    normal_high: NDArray[np.float64]
    hrv_value: NDArray[np.float64]
    hrv_stale: NDArray[np.bool_]
    hrv_age_days: NDArray[np.int32]
    hrv_days: NDArray[np.int32]  # valid HRV days in the segment up to the day
    segment_start: NDArray[np.int32]  # first day (column) of the day's effective segment
    rhr_value: NDArray[np.float64]
    rhr_baseline: NDArray[np.float64]
    rhr_stale: NDArray[np.bool_]
    rhr_age_days: NDArray[np.int32]
    debt_hours: NDArray[np.float64]
    debt_category: NDArray[np.int8]  # → DEBT_CATEGORIES, −1 when no debt
    acwr: NDArray[np.float64]
    load_acute: NDArray[np.float64]  # 7-day mean load
    load_chronic: NDArray[np.float64]  # 42-day mean load
    load_days: NDArray[np.int32]  # days since the first logged load, inclusive (0 = none yet)
    illness: NDArray[np.bool_]  # override applied

    @classmethod
    def allocate(cls, athletes: int, days: int) -> ReadinessArrays:
        kinds: dict[str, Any] = {
            "components": ((athletes, days, len(CONTRIBUTORS)), np.float64),
        }
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            shape, dtype = kinds.get(f.name, ((athletes, days), _DTYPES.get(f.name, np.float64)))
            kwargs[f.name] = np.empty(shape, dtype=dtype)
        return cls(**kwargs)

    @property
    def hrv_normal_sd(self) -> NDArray[np.float64]:
        """The 60-day SD (floored) behind the range: the range is mean ± 0.5 SD."""
        return self.normal_high - self.normal_low


_DTYPES: dict[str, Any] = {
    "band": np.int8,
    "status": np.int8,
    "reason": np.int8,
    "debt_category": np.int8,
    "stale": np.bool_,
    "hrv_stale": np.bool_,
    "rhr_stale": np.bool_,
    "illness": np.bool_,
    "hrv_age_days": np.int32,
    "hrv_days": np.int32,
    "segment_start": np.int32,
    "rhr_age_days": np.int32,
    "load_days": np.int32,
}


# --------------------------------------------------------------------------------------------
# Batch computation
# --------------------------------------------------------------------------------------------

DEFAULT_BLOCK_ATHLETES = 256


def compute_batch(
    batch: SeriesBatch, *, block_athletes: int = DEFAULT_BLOCK_ATHLETES, workers: int | None = None
) -> ReadinessArrays:
    """Readiness for every athlete-day of ``batch``, fully vectorised over athletes and days.

    ``workers`` threads (default: the CPU count, at most 8) process blocks of ``block_athletes``
    rows; results do not depend on either setting.
    """
    athletes, days = batch.athletes, batch.days
    out = ReadinessArrays.allocate(athletes, days)
    if athletes == 0 or days == 0:
        return out
    block = max(1, int(block_athletes))
    blocks = [(a0, min(a0 + block, athletes)) for a0 in range(0, athletes, block)]
    n_workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    n_workers = max(1, min(n_workers, len(blocks)))
    if n_workers == 1:
        for a0, a1 in blocks:
            _compute_block(batch, out, a0, a1)
    else:
        with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="readiness") as pool:
            for future in [pool.submit(_compute_block, batch, out, a0, a1) for a0, a1 in blocks]:
                future.result()
    return out


def _csum(a: NDArray[Any], dtype: Any = np.float64) -> NDArray[Any]:
    """Cumulative sum along days with a leading zero column: window [lo, hi) = c[hi] − c[lo]."""
    c = np.empty((a.shape[0], a.shape[1] + 1), dtype=dtype)
    c[:, 0] = 0
    np.cumsum(a, axis=1, dtype=dtype, out=c[:, 1:])
    return c


def _flat(idx: NDArray[np.int32], width: int) -> NDArray[np.intp]:
    """Row-major flat positions of per-row column indices into an (n, width) array."""
    rows = np.arange(idx.shape[0], dtype=np.intp)[:, None] * width
    return rows + idx


def _at(c: NDArray[Any], flat: NDArray[np.intp]) -> NDArray[Any]:
    # A flat take with prebuilt intp indices is ~5× faster than take_along_axis, which
    # rebuilds broadcast index arrays on every call.
    return np.take(np.ascontiguousarray(c).ravel(), flat)


def _last_index(mask: NDArray[np.bool_], day: NDArray[np.int32], missing: int) -> NDArray[np.int32]:
    """Per day, the latest column ≤ day where ``mask`` holds (``missing`` if none)."""
    idx = np.where(mask, day, np.int32(missing))
    np.maximum.accumulate(idx, axis=1, out=idx)
    return idx


def _mean_where(
    total: NDArray[np.float64], count: NDArray[Any], ok: NDArray[np.bool_]
) -> NDArray[np.float64]:
    out = np.full(total.shape, np.nan)
    np.divide(total, count, out=out, where=ok)
    return out


def _latest(
    values: NDArray[np.float64],
    last: NDArray[np.int32],
    day: NDArray[np.int32],
    seg_start: NDArray[np.int32],
    mean7: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.int32]]:
    """Value to score, stale flag and age in days for one signal (see the staleness rule)."""
    age = np.where(last >= 0, day - last, np.int32(-1)).astype(np.int32)
    in_segment = last >= seg_start
    stale = in_segment & (age >= STALE_AFTER_DAYS)
    fresh = in_segment & ~stale
    value = _at(values, _flat(np.maximum(last, 0), values.shape[1]))
    value[~fresh] = np.nan
    value[stale] = mean7[stale]
    return value, stale, age


def _weighted(
    parts: Sequence[tuple[NDArray[np.float64], float]], shape: tuple[int, ...]
) -> NDArray[np.float64]:
    """Weighted mean of the parts present (NaN-aware), NaN where none is."""
    num = np.zeros(shape)
    den = np.zeros(shape)
    tmp = np.empty(shape)
    for values, weight in parts:
        present = ~np.isnan(values)
        np.multiply(values, weight, out=tmp)
        np.add(num, tmp, out=num, where=present)
        np.add(den, weight, out=den, where=present)
    return _mean_where(num, den, den > 0)


def _compute_block(b: SeriesBatch, out: ReadinessArrays, a0: int, a1: int) -> None:
    rows = slice(a0, a1)
    x = b.ln_hrv[rows]
    n, days = x.shape
    shape = (n, days)
    day = np.broadcast_to(np.arange(days, dtype=np.int32), shape)
    v = ~np.isnan(x)

    # Effective segments: the caller's segment ids, split again wherever the HRV metric of a
    # reading differs from the previous reading of the same caller segment.
    seg = b.segment[rows]
    seg_change = np.empty(shape, dtype=np.bool_)
    seg_change[:, 0] = True
    np.not_equal(seg[:, 1:], seg[:, :-1], out=seg_change[:, 1:])
    caller_start = _last_index(seg_change, day, 0)
    last_h = _last_index(v, day, -1)
    sdnn = b.hrv_is_sdnn[rows]
    last_metric = _at(sdnn, _flat(np.maximum(last_h, 0), days))
    boundary = seg_change
    boundary[:, 1:] |= (
        v[:, 1:] & (last_h[:, :-1] >= caller_start[:, 1:]) & (sdnn[:, 1:] != last_metric[:, :-1])
    )
    seg_start = _last_index(boundary, day, 0)

    # Window lower edges, clipped to the segment start, as flat positions into the cumsums.
    lo7 = _flat(np.maximum(day - (HRV_WINDOW - 1), seg_start), days + 1)
    lo60 = _flat(np.maximum(day - BASELINE_WINDOW, seg_start), days + 1)
    at_start = _flat(seg_start, days + 1)

    # HRV: 7-day mean (d−6…d) and the previous-60-day mean/SD (d−60…d−1), inside the segment.
    xf = np.where(v, x, 0.0)
    c_x = _csum(xf)
    c_xx = _csum(xf * xf)
    c_n = _csum(v, np.int32)
    n7 = c_n[:, 1:] - _at(c_n, lo7)
    ln7 = _mean_where(c_x[:, 1:] - _at(c_x, lo7), n7, n7 >= HRV_MIN_READINGS)
    n60 = c_n[:, :-1] - _at(c_n, lo60)
    s60 = c_x[:, :-1] - _at(c_x, lo60)
    ok60 = n60 >= BASELINE_MIN_READINGS
    mean60 = _mean_where(s60, n60, ok60)
    var60 = c_xx[:, :-1] - _at(c_xx, lo60)
    var60 -= s60 * mean60
    var60 /= np.maximum(n60 - 1, 1)
    np.maximum(var60, SD_FLOOR * SD_FLOOR, out=var60)
    sd60 = np.sqrt(var60)
    hrv_days = c_n[:, 1:] - _at(c_n, at_start)
    hrv_value, hrv_stale, hrv_age = _latest(x, last_h, day, seg_start, ln7)

    # Resting HR: same windows.
    r = b.resting_hr[rows]
    rv = ~np.isnan(r)
    c_r = _csum(np.where(rv, r, 0.0))
    c_rn = _csum(rv, np.int32)
    nr7 = c_rn[:, 1:] - _at(c_rn, lo7)
    rhr7 = _mean_where(c_r[:, 1:] - _at(c_r, lo7), nr7, nr7 >= HRV_MIN_READINGS)
    nr60 = c_rn[:, :-1] - _at(c_rn, lo60)
    rhr_base = _mean_where(c_r[:, :-1] - _at(c_r, lo60), nr60, nr60 >= BASELINE_MIN_READINGS)
    rhr_value, rhr_stale, rhr_age = _latest(r, _last_index(rv, day, -1), day, seg_start, rhr7)
    rhr_delta = rhr_value - rhr_base

    sleep = b.sleep_min[rows]
    sv = ~np.isnan(sleep)
    last_any = _last_index(v | rv | sv, day, -1)

    # Contributors.
    normal_low = mean60 - RANGE_HALF_WIDTH_SD * sd60
    normal_high = mean60 + RANGE_HALF_WIDTH_SD * sd60
    hrv_balance = HRV_BALANCE_CURVE((ln7 - mean60) / sd60)
    last_night = LAST_NIGHT_CURVE((hrv_value - ln7) / sd60)
    resting = RHR_CURVE(rhr_delta)

    need = b.sleep_need_min[rows]
    need = np.where(need > 0, need, DEFAULT_SLEEP_NEED_MIN)
    duration = SLEEP_DURATION_CURVE(sleep / need[:, None])
    sleep_score = _weighted(
        [
            (duration, SLEEP_PART_WEIGHTS["duration"]),
            (EFFICIENCY_CURVE(b.efficiency_pct[rows]), SLEEP_PART_WEIGHTS["efficiency"]),
            (LATENCY_CURVE(b.latency_min[rows]), SLEEP_PART_WEIGHTS["latency"]),
            (WAKES_CURVE(b.wake_count[rows]), SLEEP_PART_WEIGHTS["wakes"]),
        ],
        shape,
    )
    sleep_score[~sv] = np.nan  # efficiency etc. alone do not make a night
    debt, debt_cat = compute_debt(sleep, need)
    debt_score = DEBT_CURVE(debt)

    # Training load: windows start at the first logged day; later unlogged days are rest (0).
    load = b.load[rows]
    lv = ~np.isnan(load)
    logged = lv.any(axis=1)
    first = np.where(logged, lv.argmax(axis=1), days).astype(np.int32)
    history = day - first[:, None] + 1
    c_l = _csum(np.where(lv, load, 0.0))

    def load_mean(window: int) -> NDArray[np.float64]:
        lagged = np.zeros(shape)
        if days > window - 1:
            lagged[:, window - 1 :] = c_l[:, : days - window + 1]
        span = np.minimum(history, window)
        return _mean_where(c_l[:, 1:] - lagged, span, span > 0)

    acute = load_mean(ACUTE_DAYS)
    chronic28 = load_mean(CHRONIC_DAYS)
    ctl42 = load_mean(CTL_DAYS)
    load_ok = (history >= LOAD_MIN_HISTORY_DAYS) & (chronic28 > 0)
    acwr = _mean_where(acute, chronic28, load_ok)
    tsb_rel = _mean_where(ctl42 - acute, ctl42, load_ok)
    load_score = _weighted(
        [(ACWR_CURVE(acwr), LOAD_PART_WEIGHTS["acwr"]), (TSB_CURVE(tsb_rel), LOAD_PART_WEIGHTS["tsb"])], shape
    )
    load_score[~load_ok] = np.nan
    acute[~load_ok] = np.nan
    ctl42[~load_ok] = np.nan

    contributions = (hrv_balance, last_night, resting, sleep_score, debt_score, load_score)
    score = _weighted(
        [(c, WEIGHTS[name]) for c, name in zip(contributions, CONTRIBUTORS, strict=True)], shape
    )

    illness = (rhr_delta >= ILLNESS_RHR_DELTA) & (ln7 < normal_low) & ~np.isnan(score)
    np.minimum(score, ILLNESS_CAP, out=score, where=illness)

    # Sleep debt and training load are slow-moving context, not a reading of today's state: a
    # score needs at least one physiological contributor (HRV, resting HR or last night's sleep).
    physiological = ~(
        np.isnan(hrv_balance) & np.isnan(last_night) & np.isnan(resting) & np.isnan(sleep_score)
    )

    # Later assignments win: no_data > no_recent_data (silence) > calibrating > nothing scoreable.
    reason = np.zeros(shape, dtype=np.int8)
    reason[~physiological] = REASON_NO_RECENT
    reason[hrv_days < MIN_HRV_DAYS] = REASON_CALIBRATING
    reason[day - last_any > NO_RECENT_AFTER_DAYS] = REASON_NO_RECENT
    reason[last_any < 0] = REASON_NO_DATA
    scored = reason == REASON_NONE
    score[~scored] = np.nan

    status = (hrv_days >= PROVISIONAL_HRV_DAYS).astype(np.int8)
    status += hrv_days >= FULL_HRV_DAYS
    status[~scored] = -1

    comps = out.components[rows]
    for k, c in enumerate(contributions):
        comps[:, :, k] = c
    comps[~scored] = np.nan

    out.score[rows] = score
    out.band[rows] = band_codes(score)
    out.status[rows] = status
    out.reason[rows] = reason
    out.stale[rows] = (hrv_stale | rhr_stale) & scored
    out.ln7[rows] = ln7
    out.normal_low[rows] = normal_low
    out.normal_high[rows] = normal_high
    out.hrv_value[rows] = hrv_value
    out.hrv_stale[rows] = hrv_stale
    out.hrv_age_days[rows] = hrv_age
    out.hrv_days[rows] = hrv_days
    out.segment_start[rows] = seg_start
    out.rhr_value[rows] = rhr_value
    out.rhr_baseline[rows] = rhr_base
    out.rhr_stale[rows] = rhr_stale
    out.rhr_age_days[rows] = rhr_age
    out.debt_hours[rows] = debt
    out.debt_category[rows] = debt_cat
    out.acwr[rows] = acwr
    out.load_acute[rows] = acute
    out.load_chronic[rows] = ctl42
    out.load_days[rows] = np.maximum(history, 0)
    out.illness[rows] = illness & scored


# --------------------------------------------------------------------------------------------
# Snapshot (one athlete-day)
# --------------------------------------------------------------------------------------------


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
    flags: tuple[str, ...] = ()  # illness, hrv_unusually_high, stale, sleep_debt_high, load_spike

    def rendered_drivers(self) -> list[str]:
        return [render(d) for d in self.drivers]

    def drivers_json(self) -> list[dict[str, Any]]:
        return [driver_to_json(d) for d in self.drivers]

    def components_json(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "score": c.score, "weight": c.weight} for c in self.components]


def _opt(value: Any) -> float | None:
    f = float(value)
    return None if math.isnan(f) else f


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

    hrv_age = _age(result.hrv_age_days[a, d])
    seg_start = int(result.segment_start[a, d])
    metric: str | None = None
    if hrv_age is not None and d - hrv_age >= seg_start:
        metric = "SDNN" if bool(batch.hrv_is_sdnn[a, d - hrv_age]) else "rMSSD"

    present: dict[str, float] = {}
    for k, name in enumerate(CONTRIBUTORS):
        c = float(result.components[a, d, k])
        if not math.isnan(c):
            present[name] = c
    total = sum(WEIGHTS[name] for name in present)
    components = tuple(
        Component(name, round_score(c), round(WEIGHTS[name] / total, 4)) for name, c in present.items()
    )

    debt_code = int(result.debt_category[a, d])
    debt_category = DEBT_CATEGORIES[debt_code] if debt_code >= 0 else None
    ln7 = _opt(result.ln7[a, d])
    low = _opt(result.normal_low[a, d])
    high = _opt(result.normal_high[a, d])
    acute = _opt(result.load_acute[a, d])
    chronic = _opt(result.load_chronic[a, d])
    baselines: dict[str, float | None] = {
        "ln7": ln7,
        "normalLow": low,
        "normalHigh": high,
        "lastNightLnHrv": _opt(result.hrv_value[a, d]),
        "restingHr": _opt(result.rhr_value[a, d]),
        "restingHrBaseline": _opt(result.rhr_baseline[a, d]),
        "sleepMin": _opt(batch.sleep_min[a, d]),
        "sleepNeedMin": float(batch.sleep_need_min[a])
        if batch.sleep_need_min[a] > 0
        else DEFAULT_SLEEP_NEED_MIN,
        "debtHours": _opt(result.debt_hours[a, d]),
        "acwr": _opt(result.acwr[a, d]),
        "loadAcute": acute,
        "loadChronic": chronic,
        "tsb": None if acute is None or chronic is None else chronic - acute,
    }

    status_code = int(result.status[a, d])
    status = STATUS_NAMES[status_code] if scored and status_code >= 0 else None
    illness = bool(result.illness[a, d])
    drivers: tuple[Driver, ...] = ()
    flags: list[str] = []
    if scored:
        facts = DayFacts(
            metric=metric or "rMSSD",
            components=present,
            weights=WEIGHTS,
            ln7=ln7,
            normal_low=low,
            normal_high=high,
            hrv_value=baselines["lastNightLnHrv"],
            hrv_stale=bool(result.hrv_stale[a, d]),
            hrv_age_days=hrv_age,
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
            load_acute=acute,
            load_chronic=chronic,
            illness=illness,
            status=status,
            hrv_days=int(result.hrv_days[a, d]),
        )
        drivers = select_drivers(facts)
        if illness:
            flags.append("illness")
        if ln7 is not None and high is not None and low is not None and ln7 > high + 0.5 * (high - low):
            flags.append("hrv_unusually_high")
        if bool(result.stale[a, d]):
            flags.append("stale")
        if debt_category == "high":
            flags.append("sleep_debt_high")
        acwr = baselines["acwr"]
        if acwr is not None and acwr >= 1.5:
            flags.append("load_spike")

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
        flags=tuple(flags),
    )


# The furthest any rule looks back: the previous-60-day baseline plus the day itself.
LOOKBACK_DAYS = BASELINE_WINDOW + 1


def inputs_hashes(
    batch: SeriesBatch, result: ReadinessArrays, athlete: int, days: Sequence[int], first_day: int = 0
) -> list[str]:
    """Stable SHA-256, per day in ``days``, of everything that athlete-day's result depends on.

    That is the inputs of the last ``LOOKBACK_DAYS`` days (segment ids relative to the day's)
    plus the few facts that reach further back (HRV days in the segment, capped where the status
    stops changing; segment start, ages and load history, capped at the longest window). Windows
    never reach before ``first_day``, the athlete's first data, so an athlete hashes the same in
    a batch of one or of thousands, whatever the batch's first column. Equal hashes mean an
    unchanged result, so a recompute can skip the write.
    """
    a = int(athlete)
    if not len(days):
        return []
    # Day-major rows of every input, so a window of days is one contiguous slice of bytes.
    inputs = np.column_stack(
        [getattr(batch, name)[a] for name in _FLOAT_INPUTS] + [batch.hrv_is_sdnn[a].astype(np.float64)]
    )
    inputs = np.where(np.isnan(inputs), np.nan, inputs + 0.0)  # one NaN payload, no −0.0
    row_bytes = memoryview(inputs.tobytes())
    stride = inputs.shape[1] * inputs.itemsize
    segment = batch.segment[a]
    day = np.asarray(days, dtype=np.int64)
    lo = np.maximum(first_day, day - LOOKBACK_DAYS + 1)
    extras = np.column_stack(
        [
            day - lo,
            np.minimum(result.hrv_days[a, day], FULL_HRV_DAYS),
            np.minimum(day - np.maximum(result.segment_start[a, day], first_day), LOOKBACK_DAYS),
            result.hrv_age_days[a, day],
            result.rhr_age_days[a, day],
            np.minimum(result.load_days[a, day], CTL_DAYS),
            result.reason[a, day],
        ]
    ).astype(np.int64)
    prefix = hashlib.sha256(ALGORITHM_VERSION.encode())
    prefix.update(np.float64(batch.sleep_need_min[a]).tobytes())
    digests = []
    for k, (d, start) in enumerate(zip(day.tolist(), lo.tolist(), strict=True)):
        h = prefix.copy()
        h.update(extras[k].tobytes())
        h.update(row_bytes[start * stride : (d + 1) * stride])
        h.update((segment[start : d + 1] - segment[d]).tobytes())
        digests.append(h.hexdigest())
    return digests


def inputs_hash(
    batch: SeriesBatch, result: ReadinessArrays, athlete: int, day: int, first_day: int = 0
) -> str:
    """:func:`inputs_hashes` of one day."""
    return inputs_hashes(batch, result, athlete, [int(day)], first_day)[0]
