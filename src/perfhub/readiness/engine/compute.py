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
    HISTORY_DAYS,
    HRV_MIN_READINGS,
    HRV_WINDOW,
    ILLNESS_CAP,
    ILLNESS_NIGHT_SD,
    ILLNESS_RHR_DELTA,
    ILLNESS_RHR_SOFT_DELTA,
    ILLNESS_STRONG_NIGHT_SD,
    LOAD_MIN_HISTORY_DAYS,
    MIN_HRV_DAYS,
    NO_RECENT_AFTER_DAYS,
    OVERREACHING_CAP,
    PROVISIONAL_HRV_DAYS,
    RANGE_HALF_WIDTH_SD,
    REASON_CALIBRATING,
    REASON_NO_DATA,
    REASON_NO_RECENT,
    REASON_NONE,
    RHR_FRESH_DAYS,
    SATURATION_NIGHT_SD,
    SATURATION_RHR_DELTA,
    SATURATION_WEEK_SD,
    SD_FLOOR,
    STALE_AFTER_DAYS,
    TREND_ALARM_SD,
    TREND_MIN_NIGHTS,
    TREND_WINDOW,
    WEIGHTS,
    band_codes,
)
from perfhub.readiness.engine.sleep_debt import compute_debt, daily_need
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

    week_z = (hrv.ln7 - hrv.mean60) / hrv.sd60
    with np.errstate(invalid="ignore"):
        # Far above the range with resting HR normal: parasympathetic saturation, flagged from
        # the first night and never worth more than a typical day.
        saturation = (np.abs(rhr.delta) < SATURATION_RHR_DELTA) & (
            (hrv.night_z >= SATURATION_NIGHT_SD) | (week_z >= SATURATION_WEEK_SD)
        )
        # Illness: resting HR +5 bpm with HRV low — the week below its range, or last night
        # alone well below the baseline (the onset night, before the weekly mean has moved).
        latest_z = _latest_night(hrv, grid)
        illness = (
            (rhr.delta >= ILLNESS_RHR_DELTA) & ((hrv.ln7 < hrv.normal_low) | (latest_z <= -ILLNESS_NIGHT_SD))
        ) | ((rhr.delta >= ILLNESS_RHR_SOFT_DELTA) & (latest_z <= -ILLNESS_STRONG_NIGHT_SD))
    # A night explained by illness is not training strain: it adds nothing to the trend, and a
    # day flagged ill is not also called overreaching.
    trend = _trend(hrv, grid, illness)
    trend.alarm[illness] = False
    hrv_balance = HRV_BALANCE_CURVE(week_z)
    last_night = LAST_NIGHT_CURVE((hrv.value - hrv.ln7) / hrv.sd60)
    np.minimum(hrv_balance, HRV_BALANCE_CURVE.at(0.0), out=hrv_balance, where=saturation)
    np.minimum(last_night, LAST_NIGHT_CURVE.at(0.0), out=last_night, where=saturation)
    contributions = (hrv_balance, last_night, RHR_CURVE(rhr.delta), sleep.score, sleep.debt_score, load.score)
    score = weighted(
        [(c, WEIGHTS[name]) for c, name in zip(contributions, CONTRIBUTORS, strict=True)], grid.shape
    )
    np.minimum(score, OVERREACHING_CAP, out=score, where=trend.alarm)
    np.minimum(score, ILLNESS_CAP, out=score, where=illness)

    last_any = last_index(grid.hrv_valid | rhr.valid | sleep.valid, grid.day, -1)
    earlier = np.asarray(b.earlier_data, dtype=np.bool_)[rows][:, None]
    reason, status = _reason_and_status(contributions, hrv, last_any, earlier, grid.day, grid.shape)
    scored = (reason == REASON_NONE) & ~np.isnan(score)
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
    out.hrv_night_z[rows] = hrv.night_z
    out.hrv_stale[rows] = hrv.stale
    out.hrv_age_days[rows] = hrv.age
    out.hrv_days[rows] = hrv.days
    out.history_days[rows] = hrv.history
    out.segment_start[rows] = grid.seg_start
    out.rhr_value[rows] = rhr.value
    out.rhr_baseline[rows] = rhr.baseline
    out.rhr_stale[rows] = rhr.stale
    out.rhr_age_days[rows] = rhr.age
    out.sleep_need[rows] = sleep.need
    out.debt_hours[rows] = sleep.debt
    out.debt_category[rows] = sleep.debt_category
    out.acwr[rows] = load.acwr
    out.load_acute[rows] = load.acute
    out.load_chronic[rows] = load.chronic
    out.load_days[rows] = np.maximum(load.history, 0)
    out.trend_sd[rows] = trend.strength
    out.trend_nights[rows] = trend.nights
    out.illness[rows] = illness & scored
    out.overreaching[rows] = trend.alarm & scored
    out.saturation[rows] = saturation & scored


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
    lo_seg_history: NDArray[np.intp]  # d−HISTORY_DAYS+1, clipped to the segment start
    lo_history: NDArray[np.intp]  # d−HISTORY_DAYS+1 (any segment)


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
        lo_seg_history=flat_index(np.maximum(day - (HISTORY_DAYS - 1), seg_start), days + 1),
        lo_history=flat_index(np.maximum(day - (HISTORY_DAYS - 1), 0), days + 1),
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
    days: I32  # valid HRV days in the segment within the last HISTORY_DAYS days
    history: I32  # valid HRV days of any segment within the last HISTORY_DAYS days
    value: F64  # last night's reading; NaN when the night is missing (weighted as missing)
    night_z: F64  # each night against its own 60-day mean, in SD (NaN when missing)
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
    age, in_segment = _age(g.last_hrv, g.day, g.seg_start)
    # Past a gap the 7-day window may hold fewer than 3 readings; the 7-day mean as of the
    # latest reading then stands in, for at most NO_RECENT_AFTER_DAYS days.
    carried = take_at(ln7, flat_index(np.maximum(g.last_hrv, 0), ln7.shape[1]))
    carry = np.isnan(ln7) & in_segment & (age <= NO_RECENT_AFTER_DAYS)
    ln7[carry] = carried[carry]
    value = np.where(v, x, np.nan)
    return _Hrv(
        ln7=ln7,
        mean60=mean60,
        sd60=sd60,
        normal_low=mean60 - RANGE_HALF_WIDTH_SD * sd60,
        normal_high=mean60 + RANGE_HALF_WIDTH_SD * sd60,
        days=c_n[:, 1:] - take_at(c_n, g.lo_seg_history),
        history=c_n[:, 1:] - take_at(c_n, g.lo_history),
        value=value,
        night_z=(value - mean60) / sd60,
        stale=in_segment & (age >= STALE_AFTER_DAYS),
        age=age,
    )


def _rhr_baseline(r: F64, g: _Grid) -> _Rhr:
    """Resting HR over the same windows as HRV: the 60-day baseline, and last night's value —
    else yesterday's (under 36 h old), else the 7-day mean as of the latest reading."""
    rv = ~np.isnan(r)
    c_r = csum(np.where(rv, r, 0.0))
    c_rn = csum(rv, np.int32)
    nr7 = c_rn[:, 1:] - take_at(c_rn, g.lo7)
    rhr7 = mean_where(c_r[:, 1:] - take_at(c_r, g.lo7), nr7, nr7 >= HRV_MIN_READINGS)
    nr60 = c_rn[:, :-1] - take_at(c_rn, g.lo60)
    base = mean_where(c_r[:, :-1] - take_at(c_r, g.lo60), nr60, nr60 >= BASELINE_MIN_READINGS)
    last = last_index(rv, g.day, -1)
    age, in_segment = _age(last, g.day, g.seg_start)
    at_last = flat_index(np.maximum(last, 0), r.shape[1])
    value = np.where(age <= RHR_FRESH_DAYS, take_at(r, at_last), take_at(rhr7, at_last))
    value[~in_segment | (age > NO_RECENT_AFTER_DAYS)] = np.nan
    stale = in_segment & (age >= STALE_AFTER_DAYS)
    return _Rhr(valid=rv, baseline=base, value=value, delta=value - base, stale=stale, age=age)


def _latest_night(hrv: _Hrv, g: _Grid) -> F64:
    """The newest night's HRV against its baseline (in SD) while under 36 h old: last night's,
    else the night before's if it lies in the day's segment (as resting HR is read)."""
    yesterday = np.full(hrv.night_z.shape, np.nan)
    yesterday[:, 1:] = hrv.night_z[:, :-1]
    yesterday[g.day - 1 < g.seg_start] = np.nan
    return np.where(np.isnan(hrv.night_z), yesterday, hrv.night_z)


def _age(last: I32, day: I32, seg_start: I32) -> tuple[I32, Mask]:
    """Days since the latest reading and whether it lies in the day's segment; a reading older
    than ``HISTORY_DAYS`` counts as none (age −1), which keeps the engine's memory bounded."""
    recent = (last >= 0) & (day - last < HISTORY_DAYS)
    age = np.where(recent, day - last, np.int32(-1)).astype(np.int32)
    return age, recent & (last >= seg_start)


# --------------------------------------------------------------------------------------------
# HRV trend (overreaching)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Trend:
    strength: F64  # the best run's weighted shortfall, in SD (0 when HRV is not below baseline)
    nights: I32  # nights with a reading in that run
    alarm: Mask


def _trend(hrv: _Hrv, g: _Grid, ill: Mask) -> _Trend:
    """A gradual decline of HRV below its baseline, caught while it is under way.

    For each run of the last k days of the segment (k = 2 … ``TREND_WINDOW``), each night's
    shortfall below its baseline (−z) is weighted by its place in the run, 1 for the oldest up to
    k for the newest, and the sum is divided by the root of the summed squared weights of the
    nights present. That is the matched filter for a decline that deepens night after night: it
    stays near N(0, 1) on ordinary nights, grows with each further night down, and falls as soon
    as the newest night recovers. The strength is the best run's. A missing night, or one flagged
    ``ill``, adds nothing and is not counted.

    The runs are grown night by night from the newest, with running sums only (no cumulative
    sums over the whole batch), so a day's value is the same whichever day the batch starts on.
    """
    present = ~np.isnan(hrv.night_z) & ~ill
    shortfall = np.where(present, -hrv.night_z, 0.0)
    counted = present.astype(np.float64)
    below = (present & (shortfall > 0)).astype(np.float64)
    shape = g.shape
    run_sum = np.zeros(shape)  # Σ shortfall over the run
    run_count = np.zeros(shape)  # nights present in the run
    run_below = np.zeros(shape)  # nights below the baseline in the run
    weighted_sum = np.zeros(shape)  # Σ weight · shortfall
    weighted_count = np.zeros(shape)  # Σ weight over the nights present
    squared = np.zeros(shape)  # Σ weight² over the nights present
    strength = np.zeros(shape)
    nights = np.zeros(shape, dtype=np.int32)
    for k in range(1, TREND_WINDOW + 1):
        # Night d−k+1 joins the run; every night already in it moves one place up in weight.
        inside = g.day - (k - 1) >= g.seg_start
        night = np.zeros(shape)
        count = np.zeros(shape)
        down = np.zeros(shape)
        night[:, k - 1 :] = shortfall[:, : shape[1] - k + 1]
        count[:, k - 1 :] = counted[:, : shape[1] - k + 1]
        down[:, k - 1 :] = below[:, : shape[1] - k + 1]
        night[~inside] = 0.0
        count[~inside] = 0.0
        down[~inside] = 0.0
        run_sum += night
        run_count += count
        run_below += down
        weighted_sum += run_sum
        weighted_count += run_count
        squared += 2.0 * weighted_count - run_count
        if k < 2:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            value = weighted_sum / np.sqrt(squared)
        better = inside & (run_below >= TREND_MIN_NIGHTS) & (value > strength)
        strength[better] = value[better]
        nights[better] = run_count[better]
    alarm = strength >= TREND_ALARM_SD
    return _Trend(strength=strength, nights=nights, alarm=alarm)


# --------------------------------------------------------------------------------------------
# Sleep and training-load components
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Sleep:
    valid: Mask
    need: F64  # minutes, per day: the athlete's own setting or the estimate from their nights
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
    need = daily_need(sleep, b.sleep_need_min[rows])
    duration = SLEEP_DURATION_CURVE(sleep / need)
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
    return _Sleep(
        valid=sv, need=need, score=score, debt=debt, debt_category=debt_cat, debt_score=DEBT_CURVE(debt)
    )


def _training_load(load: F64, day: I32, shape: tuple[int, int]) -> _Load:
    """ACWR and TSB: windows start at the first logged day of the last ``HISTORY_DAYS``; later
    unlogged days are rest (0). An athlete who logged nothing for that long logs no training."""
    days = shape[1]
    lv = ~np.isnan(load)
    # The first logged day at or after each column (``days`` if none): read at d − HISTORY + 1.
    next_logged = np.where(lv, day, np.int32(days))
    next_logged = np.minimum.accumulate(next_logged[:, ::-1], axis=1)[:, ::-1]
    window_start = np.maximum(day - (HISTORY_DAYS - 1), 0)
    first = take_at(next_logged, flat_index(window_start, days))
    history = np.where(first <= day, day - first + 1, 0).astype(np.int32)
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


def _reason_and_status(
    contributions: tuple[F64, ...], hrv: _Hrv, last_any: I32, earlier: Mask, day: I32, shape: tuple[int, int]
) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """Why a day has no score (0 = scored) and the status by valid HRV days."""
    hrv_balance, last_night, resting, sleep_score = contributions[:4]
    # Sleep debt and training load are slow-moving context, not a reading of today's state: a
    # score needs at least one physiological contributor (HRV, resting HR or last night's sleep).
    physiological = ~(
        np.isnan(hrv_balance) & np.isnan(last_night) & np.isnan(resting) & np.isnan(sleep_score)
    )
    # Later assignments win: no_data > no_recent_data (silence) > calibrating > nothing scoreable.
    # Calibrating is about the athlete, not the device: a new source after months of HRV starts
    # a new baseline, and meanwhile the athlete is scored on what else there is.
    reason = np.zeros(shape, dtype=np.int8)
    reason[~physiological] = REASON_NO_RECENT
    reason[hrv.history < MIN_HRV_DAYS] = REASON_CALIBRATING
    reason[day - last_any > NO_RECENT_AFTER_DAYS] = REASON_NO_RECENT
    reason[(last_any < 0) & ~earlier] = REASON_NO_DATA

    status = (hrv.days >= PROVISIONAL_HRV_DAYS).astype(np.int8)
    status += hrv.days >= FULL_HRV_DAYS
    np.maximum(status, (hrv.history >= PROVISIONAL_HRV_DAYS).astype(np.int8), out=status)
    return reason, status
