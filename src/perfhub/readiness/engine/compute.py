"""compute_batch: every athlete-day of a :class:`SeriesBatch`, vectorised over athletes and days.

The rules are in :mod:`.rules` and docs/readiness.md. A block of athletes goes through named
stages, each a function over (athletes × days) arrays: segments and window edges → HRV and
resting-HR baselines, normal range and staleness → contributors → weighted score and illness
override → reason and status. Rolling windows are cumsum differences (:mod:`.windows`). Blocks
bound memory and run on a thread pool (numpy releases the GIL); every operation is row-local, so
a row's result does not depend on which other rows share its block.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.engine.batch import ReadinessArrays, SeriesBatch
from perfhub.readiness.engine.curves import (
    ACWR_CURVE,
    DEBT_CURVE,
    EFFICIENCY_CURVE,
    HRV_BALANCE_CURVE,
    LAST_NIGHT_CURVE,
    LATENCY_CURVE,
    LOAD_PART_WEIGHTS,
    RHR_CURVE,
    SLEEP_DURATION_CURVE,
    SLEEP_PART_WEIGHTS,
    TSB_CURVE,
    WAKES_CURVE,
)
from perfhub.readiness.engine.rules import (
    ACUTE_DAYS,
    BASELINE_MIN_READINGS,
    BASELINE_WINDOW,
    CHRONIC_DAYS,
    CONTRIBUTORS,
    CTL_DAYS,
    FULL_HRV_DAYS,
    HRV_MIN_READINGS,
    HRV_WINDOW,
    ILLNESS_CAP,
    ILLNESS_RHR_DELTA,
    LOAD_MIN_HISTORY_DAYS,
    MIN_HRV_DAYS,
    NO_RECENT_AFTER_DAYS,
    PROVISIONAL_HRV_DAYS,
    RANGE_HALF_WIDTH_SD,
    REASON_CALIBRATING,
    REASON_NO_DATA,
    REASON_NO_RECENT,
    REASON_NONE,
    SD_FLOOR,
    STALE_AFTER_DAYS,
    WEIGHTS,
    band_codes,
)
from perfhub.readiness.engine.sleep_debt import DEFAULT_SLEEP_NEED_MIN, compute_debt
from perfhub.readiness.engine.windows import csum, flat_index, last_index, mean_where, take_at, weighted

__all__ = ["DEFAULT_BLOCK_ATHLETES", "compute_batch"]

DEFAULT_BLOCK_ATHLETES = 256

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
Mask = NDArray[np.bool_]


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


def _compute_block(b: SeriesBatch, out: ReadinessArrays, a0: int, a1: int) -> None:
    rows = slice(a0, a1)
    grid = _segments(b, rows)
    hrv = _hrv_baseline(b.ln_hrv[rows], grid)
    rhr = _rhr_baseline(b.resting_hr[rows], grid)
    sleep = _sleep(b, rows, grid.shape)
    load = _training_load(b.load[rows], grid.day, grid.shape)

    hrv_balance = HRV_BALANCE_CURVE((hrv.ln7 - hrv.mean60) / hrv.sd60)
    last_night = LAST_NIGHT_CURVE((hrv.value - hrv.ln7) / hrv.sd60)
    resting = RHR_CURVE(rhr.delta)
    contributions = (hrv_balance, last_night, resting, sleep.score, sleep.debt_score, load.score)
    score, illness = _score(contributions, rhr.delta, hrv.ln7, hrv.normal_low, grid.shape)

    last_any = last_index(grid.hrv_valid | rhr.valid | sleep.valid, grid.day, -1)
    reason, status = _reason_and_status(contributions, hrv.days, last_any, grid.day, grid.shape)
    scored = reason == REASON_NONE
    score[~scored] = np.nan
    status[~scored] = -1

    comps = out.components[rows]
    for k, c in enumerate(contributions):
        comps[:, :, k] = c
    comps[~scored] = np.nan

    out.score[rows] = score
    out.band[rows] = band_codes(score)
    out.status[rows] = status
    out.reason[rows] = reason
    out.stale[rows] = (hrv.stale | rhr.stale) & scored
    out.ln7[rows] = hrv.ln7
    out.normal_low[rows] = hrv.normal_low
    out.normal_high[rows] = hrv.normal_high
    out.hrv_value[rows] = hrv.value
    out.hrv_stale[rows] = hrv.stale
    out.hrv_age_days[rows] = hrv.age
    out.hrv_days[rows] = hrv.days
    out.segment_start[rows] = grid.seg_start
    out.rhr_value[rows] = rhr.value
    out.rhr_baseline[rows] = rhr.baseline
    out.rhr_stale[rows] = rhr.stale
    out.rhr_age_days[rows] = rhr.age
    out.debt_hours[rows] = sleep.debt
    out.debt_category[rows] = sleep.debt_category
    out.acwr[rows] = load.acwr
    out.load_acute[rows] = load.acute
    out.load_chronic[rows] = load.chronic
    out.load_days[rows] = np.maximum(load.history, 0)
    out.illness[rows] = illness & scored


# --------------------------------------------------------------------------------------------
# Segments and window edges
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Grid:
    """A block's day columns, effective segments and window edges (flat cumsum positions)."""

    shape: tuple[int, int]
    day: I32
    hrv_valid: Mask
    last_hrv: I32  # latest column with an HRV reading, −1 before any
    seg_start: I32
    lo7: NDArray[np.intp]  # d−6, clipped to the segment start
    lo60: NDArray[np.intp]  # d−60, clipped to the segment start
    at_start: NDArray[np.intp]


def _segments(b: SeriesBatch, rows: slice) -> _Grid:
    """Effective segments: the caller's segment ids, split again wherever the HRV metric of a
    reading differs from the previous reading of the same caller segment."""
    x = b.ln_hrv[rows]
    n, days = x.shape
    shape = (n, days)
    day = np.broadcast_to(np.arange(days, dtype=np.int32), shape)
    v = ~np.isnan(x)

    seg = b.segment[rows]
    seg_change = np.empty(shape, dtype=np.bool_)
    seg_change[:, 0] = True
    np.not_equal(seg[:, 1:], seg[:, :-1], out=seg_change[:, 1:])
    caller_start = last_index(seg_change, day, 0)
    last_h = last_index(v, day, -1)
    sdnn = b.hrv_is_sdnn[rows]
    last_metric = take_at(sdnn, flat_index(np.maximum(last_h, 0), days))
    boundary = seg_change
    boundary[:, 1:] |= (
        v[:, 1:] & (last_h[:, :-1] >= caller_start[:, 1:]) & (sdnn[:, 1:] != last_metric[:, :-1])
    )
    seg_start = last_index(boundary, day, 0)

    return _Grid(
        shape=shape,
        day=day,
        hrv_valid=v,
        last_hrv=last_h,
        seg_start=seg_start,
        lo7=flat_index(np.maximum(day - (HRV_WINDOW - 1), seg_start), days + 1),
        lo60=flat_index(np.maximum(day - BASELINE_WINDOW, seg_start), days + 1),
        at_start=flat_index(seg_start, days + 1),
    )


# --------------------------------------------------------------------------------------------
# Baselines, normal range and staleness
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Hrv:
    ln7: F64  # 7-day mean ln HRV (d−6…d)
    mean60: F64  # previous-60-day mean (d−60…d−1)
    sd60: F64  # its SD, floored
    normal_low: F64
    normal_high: F64
    days: I32  # valid HRV days in the segment up to the day
    value: F64  # last night's value, or the 7-day mean when stale
    stale: Mask
    age: I32


@dataclass(frozen=True, eq=False)
class _Rhr:
    valid: Mask
    baseline: F64  # previous-60-day mean
    value: F64
    delta: F64  # value − baseline, bpm
    stale: Mask
    age: I32


def _hrv_baseline(x: F64, g: _Grid) -> _Hrv:
    """7-day mean, previous-60-day mean/SD and the normal range, inside the segment."""
    v = g.hrv_valid
    xf = np.where(v, x, 0.0)
    c_x = csum(xf)
    c_xx = csum(xf * xf)
    c_n = csum(v, np.int32)
    n7 = c_n[:, 1:] - take_at(c_n, g.lo7)
    ln7 = mean_where(c_x[:, 1:] - take_at(c_x, g.lo7), n7, n7 >= HRV_MIN_READINGS)
    n60 = c_n[:, :-1] - take_at(c_n, g.lo60)
    s60 = c_x[:, :-1] - take_at(c_x, g.lo60)
    ok60 = n60 >= BASELINE_MIN_READINGS
    mean60 = mean_where(s60, n60, ok60)
    var60 = c_xx[:, :-1] - take_at(c_xx, g.lo60)
    var60 -= s60 * mean60
    var60 /= np.maximum(n60 - 1, 1)
    np.maximum(var60, SD_FLOOR * SD_FLOOR, out=var60)
    sd60 = np.sqrt(var60)
    hrv_days = c_n[:, 1:] - take_at(c_n, g.at_start)
    value, stale, age = _latest(x, g.last_hrv, g.day, g.seg_start, ln7)
    return _Hrv(
        ln7=ln7,
        mean60=mean60,
        sd60=sd60,
        normal_low=mean60 - RANGE_HALF_WIDTH_SD * sd60,
        normal_high=mean60 + RANGE_HALF_WIDTH_SD * sd60,
        days=hrv_days,
        value=value,
        stale=stale,
        age=age,
    )


def _rhr_baseline(r: F64, g: _Grid) -> _Rhr:
    """Resting HR over the same windows as HRV: 7-day mean (for staleness) and 60-day baseline."""
    rv = ~np.isnan(r)
    c_r = csum(np.where(rv, r, 0.0))
    c_rn = csum(rv, np.int32)
    nr7 = c_rn[:, 1:] - take_at(c_rn, g.lo7)
    rhr7 = mean_where(c_r[:, 1:] - take_at(c_r, g.lo7), nr7, nr7 >= HRV_MIN_READINGS)
    nr60 = c_rn[:, :-1] - take_at(c_rn, g.lo60)
    base = mean_where(c_r[:, :-1] - take_at(c_r, g.lo60), nr60, nr60 >= BASELINE_MIN_READINGS)
    value, stale, age = _latest(r, last_index(rv, g.day, -1), g.day, g.seg_start, rhr7)
    return _Rhr(valid=rv, baseline=base, value=value, delta=value - base, stale=stale, age=age)


def _latest(values: F64, last: I32, day: I32, seg_start: I32, mean7: F64) -> tuple[F64, Mask, I32]:
    """Value to score, stale flag and age in days for one signal (see the staleness rule)."""
    age = np.where(last >= 0, day - last, np.int32(-1)).astype(np.int32)
    in_segment = last >= seg_start
    stale = in_segment & (age >= STALE_AFTER_DAYS)
    fresh = in_segment & ~stale
    value = take_at(values, flat_index(np.maximum(last, 0), values.shape[1]))
    value[~fresh] = np.nan
    value[stale] = mean7[stale]
    return value, stale, age


# --------------------------------------------------------------------------------------------
# Sleep and training-load components
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Sleep:
    valid: Mask
    score: F64
    debt: F64
    debt_category: NDArray[np.int8]
    debt_score: F64


@dataclass(frozen=True, eq=False)
class _Load:
    history: I32  # days since the first logged load, inclusive (≤ 0 before it)
    acwr: F64
    acute: F64  # NaN where the load component is not computable
    chronic: F64  # 42-day mean, NaN likewise
    score: F64


def _sleep(b: SeriesBatch, rows: slice, shape: tuple[int, int]) -> _Sleep:
    sleep = b.sleep_min[rows]
    sv = ~np.isnan(sleep)
    need = b.sleep_need_min[rows]
    need = np.where(need > 0, need, DEFAULT_SLEEP_NEED_MIN)
    duration = SLEEP_DURATION_CURVE(sleep / need[:, None])
    score = weighted(
        [
            (duration, SLEEP_PART_WEIGHTS["duration"]),
            (EFFICIENCY_CURVE(b.efficiency_pct[rows]), SLEEP_PART_WEIGHTS["efficiency"]),
            (LATENCY_CURVE(b.latency_min[rows]), SLEEP_PART_WEIGHTS["latency"]),
            (WAKES_CURVE(b.wake_count[rows]), SLEEP_PART_WEIGHTS["wakes"]),
        ],
        shape,
    )
    score[~sv] = np.nan  # efficiency etc. alone do not make a night
    debt, debt_cat = compute_debt(sleep, need)
    return _Sleep(valid=sv, score=score, debt=debt, debt_category=debt_cat, debt_score=DEBT_CURVE(debt))


def _training_load(load: F64, day: I32, shape: tuple[int, int]) -> _Load:
    """ACWR and TSB: windows start at the first logged day; later unlogged days are rest (0)."""
    days = shape[1]
    lv = ~np.isnan(load)
    logged = lv.any(axis=1)
    first = np.where(logged, lv.argmax(axis=1), days).astype(np.int32)
    history = day - first[:, None] + 1
    c_l = csum(np.where(lv, load, 0.0))

    def load_mean(window: int) -> F64:
        lagged = np.zeros(shape)
        if days > window - 1:
            lagged[:, window - 1 :] = c_l[:, : days - window + 1]
        span = np.minimum(history, window)
        return mean_where(c_l[:, 1:] - lagged, span, span > 0)

    acute = load_mean(ACUTE_DAYS)
    chronic28 = load_mean(CHRONIC_DAYS)
    ctl42 = load_mean(CTL_DAYS)
    load_ok = (history >= LOAD_MIN_HISTORY_DAYS) & (chronic28 > 0)
    acwr = mean_where(acute, chronic28, load_ok)
    tsb_rel = mean_where(ctl42 - acute, ctl42, load_ok)
    score = weighted(
        [(ACWR_CURVE(acwr), LOAD_PART_WEIGHTS["acwr"]), (TSB_CURVE(tsb_rel), LOAD_PART_WEIGHTS["tsb"])], shape
    )
    score[~load_ok] = np.nan
    acute[~load_ok] = np.nan
    ctl42[~load_ok] = np.nan
    return _Load(history=history, acwr=acwr, acute=acute, chronic=ctl42, score=score)


# --------------------------------------------------------------------------------------------
# Score, illness override, reason and status
# --------------------------------------------------------------------------------------------


def _score(
    contributions: tuple[F64, ...], rhr_delta: F64, ln7: F64, normal_low: F64, shape: tuple[int, int]
) -> tuple[F64, Mask]:
    """Weighted mean of the contributors present, capped by the illness override."""
    score = weighted([(c, WEIGHTS[name]) for c, name in zip(contributions, CONTRIBUTORS, strict=True)], shape)
    illness = (rhr_delta >= ILLNESS_RHR_DELTA) & (ln7 < normal_low) & ~np.isnan(score)
    np.minimum(score, ILLNESS_CAP, out=score, where=illness)
    return score, illness


def _reason_and_status(
    contributions: tuple[F64, ...], hrv_days: I32, last_any: I32, day: I32, shape: tuple[int, int]
) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """Why a day has no score (0 = scored) and the status by valid HRV days."""
    hrv_balance, last_night, resting, sleep_score = contributions[:4]
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

    status = (hrv_days >= PROVISIONAL_HRV_DAYS).astype(np.int8)
    status += hrv_days >= FULL_HRV_DAYS
    return reason, status
