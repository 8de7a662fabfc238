"""Idiomatic pandas reference implementation of the readiness rules (docs/readiness.md).

Same rules as the engine's ``ALGORITHM_VERSION`` (1.1.0), the same constants (imported from
``perfhub.readiness.engine.rules`` and ``.sleep_debt``) and the same score curves
(``perfhub.readiness.engine.curves``), written the way one would in pandas: one long
DataFrame (athlete, day), ``groupby(...).rolling`` windows, ``groupby().ffill()`` for "latest
reading", ``groupby().shift()`` for lags, no Python loop over days or athletes (only over the
seven lags of the overreaching trend). It exists to benchmark the numpy batch path against, and
to cross-check its results; apart from the curves, none of its arithmetic is the engine's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfhub.readiness.engine import curves as C
from perfhub.readiness.engine import rules as R
from perfhub.readiness.engine import sleep_debt as S
from perfhub.readiness.engine.batch import SeriesBatch


def batch_to_frame(batch: SeriesBatch) -> pd.DataFrame:
    """The long (athlete, day) frame the reference works on: one row per athlete-day."""
    athletes, days = batch.athletes, batch.days
    earlier = np.zeros(athletes, dtype=np.bool_) if batch.earlier_data is None else batch.earlier_data
    return pd.DataFrame(
        {
            "athlete": np.repeat(np.arange(athletes, dtype=np.int64), days),
            "day": np.tile(np.arange(days, dtype=np.int64), athletes),
            "ln_hrv": batch.ln_hrv.ravel(),
            "is_sdnn": batch.hrv_is_sdnn.ravel(),
            "rhr": batch.resting_hr.ravel(),
            "sleep": batch.sleep_min.ravel(),
            "eff": batch.efficiency_pct.ravel(),
            "lat": batch.latency_min.ravel(),
            "wakes": batch.wake_count.ravel(),
            "load": batch.load.ravel(),
            "segment": batch.segment.ravel(),
            "need": np.repeat(batch.sleep_need_min, days),
            "earlier": np.repeat(earlier, days),
        }
    )


def _curve(values: pd.Series, curve: C.Curve) -> pd.Series:
    # The engine's own curve objects rather than np.interp over their knots: bands are compared
    # exactly, and a day whose contributors sit on knots can score exactly x.5, where one ulp
    # of a different interpolation decides the band. tests/readiness checks curve = np.interp.
    return pd.Series(curve(values.to_numpy()), index=values.index)


def _weighted(parts: dict[str, pd.Series], weights: dict[str, float]) -> pd.Series:
    frame = pd.DataFrame(parts)
    w = pd.Series(weights)[frame.columns]
    num = frame.mul(w, axis=1).sum(axis=1, min_count=1)
    den = frame.notna().mul(w, axis=1).sum(axis=1)
    return num / den.where(den > 0)


def _rolling(values: pd.Series, by: pd.Series, window: int, min_periods: int, how: str) -> pd.Series:
    roll = values.groupby(by, sort=False).rolling(window, min_periods=min_periods)
    out: pd.Series = getattr(roll, how)()
    return out.reset_index(level=0, drop=True)


def compute_readiness(df: pd.DataFrame) -> pd.DataFrame:
    """Score, band, status, reason and flags for every row of ``batch_to_frame`` output."""
    day = df["day"]
    athlete = df["athlete"]
    by_athlete = df.groupby("athlete", sort=False)
    v = df["ln_hrv"].notna()
    rv = df["rhr"].notna()
    sv = df["sleep"].notna()
    row = pd.Series(np.arange(len(df), dtype=np.float64), index=df.index)

    # Effective segments: caller segment runs, split where the metric of a reading differs
    # from the previous reading of the same caller segment.
    seg_change = df["segment"].ne(by_athlete["segment"].shift())
    caller_run = seg_change.cumsum()
    metric = df["is_sdnn"].astype(float).where(v)
    prev_metric = metric.groupby(caller_run).ffill().groupby(caller_run).shift()
    metric_change = v & prev_metric.notna() & metric.ne(prev_metric)
    run = (seg_change | metric_change).cumsum()
    seg_start = day.groupby(run).transform("min")

    def latest(valid: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
        """The row of the latest reading up to each day, its age in days and whether it counts
        for the day's segment (a reading older than HISTORY_DAYS counts as none)."""
        last_row = row.where(valid).groupby(athlete).ffill()
        last = day.where(valid).groupby(athlete).ffill()
        age = day - last
        in_segment = (age < R.HISTORY_DAYS) & (last >= seg_start)
        return last_row, age, in_segment

    # HRV windows inside the segment.
    ln_hrv = df["ln_hrv"]
    ln7 = _rolling(ln_hrv, run, R.HRV_WINDOW, R.HRV_MIN_READINGS, "mean")
    mean60 = _rolling(ln_hrv, run, R.BASELINE_WINDOW, R.BASELINE_MIN_READINGS, "mean")
    sd60 = _rolling(ln_hrv, run, R.BASELINE_WINDOW, R.BASELINE_MIN_READINGS, "std")
    mean60 = mean60.groupby(run).shift()
    sd60 = sd60.groupby(run).shift().clip(lower=R.SD_FLOOR)
    normal_low = mean60 - R.RANGE_HALF_WIDTH_SD * sd60
    v_count = v.astype(float)
    hrv_days = _rolling(v_count, run, R.HISTORY_DAYS, 1, "sum")
    hrv_history = _rolling(v_count, athlete, R.HISTORY_DAYS, 1, "sum")

    # Last night is the reading dated the day, or nothing; past a gap the 7-day mean as of the
    # latest reading stands in for a window with too few readings, for a week at most.
    hrv_last_row, hrv_age, hrv_in_segment = latest(v)
    carry = ln7.isna() & hrv_in_segment & (hrv_age <= R.NO_RECENT_AFTER_DAYS)
    ln7 = ln7.mask(carry, hrv_last_row.map(ln7))
    hrv_stale = hrv_in_segment & (hrv_age >= R.STALE_AFTER_DAYS)
    night_z = (ln_hrv - mean60) / sd60
    week_z = (ln7 - mean60) / sd60

    # Resting HR: the day's reading, else yesterday's, else the 7-day mean as of the latest.
    rhr7 = _rolling(df["rhr"], run, R.HRV_WINDOW, R.HRV_MIN_READINGS, "mean")
    rhr_base = _rolling(df["rhr"], run, R.BASELINE_WINDOW, R.BASELINE_MIN_READINGS, "mean")
    rhr_base = rhr_base.groupby(run).shift()
    rhr_last_row, rhr_age, rhr_in_segment = latest(rv)
    rhr_value = df["rhr"].groupby(athlete).ffill().where(rhr_age <= R.RHR_FRESH_DAYS, rhr_last_row.map(rhr7))
    rhr_value = rhr_value.where(rhr_in_segment & (rhr_age <= R.NO_RECENT_AFTER_DAYS))
    rhr_stale = rhr_in_segment & (rhr_age >= R.STALE_AFTER_DAYS)
    rhr_delta = rhr_value - rhr_base

    # Saturation and illness; the newest night is today's, else yesterday's.
    saturation = (rhr_delta.abs() < R.SATURATION_RHR_DELTA) & (
        (night_z >= R.SATURATION_NIGHT_SD) | (week_z >= R.SATURATION_WEEK_SD)
    )
    yesterday_z = night_z.groupby(athlete).shift().where(day - 1 >= seg_start)
    latest_z = night_z.fillna(yesterday_z)
    illness = (
        (rhr_delta >= R.ILLNESS_RHR_DELTA) & ((ln7 < normal_low) | (latest_z <= -R.ILLNESS_NIGHT_SD))
    ) | ((rhr_delta >= R.ILLNESS_RHR_SOFT_DELTA) & (latest_z <= -R.ILLNESS_STRONG_NIGHT_SD))

    # Overreaching: over the runs of the last k = 2 … TREND_WINDOW days of the segment, each
    # night's shortfall below the baseline weighted k for the newest down to 1 for the oldest,
    # over the root of the summed squared weights of the nights present (missing and ill nights
    # add nothing and are not counted); the best run with TREND_MIN_NIGHTS nights below the
    # baseline. Written out per run length here; the engine grows the runs with running sums.
    counted = night_z.notna() & ~illness
    shortfall = (-night_z).where(counted, 0.0)
    strength = pd.Series(0.0, index=df.index)
    for k in range(2, R.TREND_WINDOW + 1):
        total = pd.Series(0.0, index=df.index)
        squares = pd.Series(0.0, index=df.index)
        below = pd.Series(0.0, index=df.index)
        for lag in range(k):
            weight = float(k - lag)
            total = total + weight * shortfall.groupby(run).shift(lag)
            squares = squares + weight * weight * counted.astype(float).groupby(run).shift(lag)
            below = below + (counted & (shortfall > 0)).astype(float).groupby(run).shift(lag)
        value = total / np.sqrt(squares)
        strength = strength.mask((below >= R.TREND_MIN_NIGHTS) & (value > strength), value)
    overreaching = (strength >= R.TREND_ALARM_SD) & ~illness

    last_any = day.where(v | rv | sv).groupby(athlete).ffill()

    # Sleep need: the athlete's own, else the mean of the nights d−60…d−1 (night d left out),
    # with at least NEED_MIN_NIGHTS of them, clamped and rounded half up to NEED_STEP_MIN.
    previous_nights = df["sleep"].groupby(athlete).shift()
    estimated = _rolling(previous_nights, athlete, S.NEED_WINDOW, S.NEED_MIN_NIGHTS, "mean")
    estimated = estimated.fillna(S.DEFAULT_SLEEP_NEED_MIN).clip(S.NEED_FLOOR_MIN, S.NEED_CEILING_MIN)
    estimated = np.floor(estimated / S.NEED_STEP_MIN + 0.5) * S.NEED_STEP_MIN
    need = df["need"].where(df["need"] > 0, estimated)

    # Sleep and sleep debt (linear 14-night weights as in sleep_debt.compute_debt), each night
    # against the need in force that night.
    sleep_score = _weighted(
        {
            "duration": _curve(df["sleep"] / need, C.SLEEP_DURATION_CURVE),
            "efficiency": _curve(df["eff"], C.EFFICIENCY_CURVE),
            "latency": _curve(df["lat"], C.LATENCY_CURVE),
            "wakes": _curve(df["wakes"], C.WAKES_CURVE),
        },
        C.SLEEP_PART_WEIGHTS,
    ).where(sv)
    present = sv.astype(float)
    short = ((need - df["sleep"]).clip(lower=-S.SURPLUS_CAP_MIN) / 60.0).fillna(0.0)
    w = S.DEBT_WINDOW
    nights = _rolling(present, athlete, w, 1, "sum")
    offset = day - w
    num = _rolling(short * day, athlete, w, 1, "sum") - offset * _rolling(short, athlete, w, 1, "sum")
    den = _rolling(present * day, athlete, w, 1, "sum") - offset * nights
    debt = (num / den * S.DEBT_WEIGHT_TOTAL).where(nights >= S.DEBT_MIN_NIGHTS).clip(lower=0.0)

    # Training load from the first logged day of the last HISTORY_DAYS; later unlogged days are
    # rest days.
    logged = df["load"].notna()
    first = _rolling(day.where(logged).astype(float), athlete, R.HISTORY_DAYS, 1, "min")
    history = day - first + 1
    load = df["load"].fillna(0.0)

    def load_mean(window: int) -> pd.Series:
        span = np.minimum(history, window)
        return _rolling(load, athlete, window, 1, "sum") / span.where(span > 0)

    acute, chronic, ctl = load_mean(R.ACUTE_DAYS), load_mean(R.CHRONIC_DAYS), load_mean(R.CTL_DAYS)
    load_ok = (history >= R.LOAD_MIN_HISTORY_DAYS) & (chronic > 0)
    load_score = _weighted(
        {
            "acwr": _curve((acute / chronic).where(load_ok), C.ACWR_CURVE),
            "tsb": _curve(((ctl - acute) / ctl).where(load_ok), C.TSB_CURVE),
        },
        C.LOAD_PART_WEIGHTS,
    )

    # Saturation: high HRV is never worth more than a typical day.
    hrv_balance = _curve(week_z, C.HRV_BALANCE_CURVE)
    hrv_balance = hrv_balance.mask(saturation, hrv_balance.clip(upper=C.HRV_BALANCE_CURVE.at(0.0)))
    last_night = _curve((ln_hrv - ln7) / sd60, C.LAST_NIGHT_CURVE)
    last_night = last_night.mask(saturation, last_night.clip(upper=C.LAST_NIGHT_CURVE.at(0.0)))
    contributors = {
        "hrv_balance": hrv_balance,
        "last_night_hrv": last_night,
        "resting_hr": _curve(rhr_delta, C.RHR_CURVE),
        "sleep": sleep_score,
        "sleep_debt": _curve(debt, C.DEBT_CURVE),
        "training_load": load_score,
    }
    score = _weighted(contributors, R.WEIGHTS)
    score = score.mask(overreaching, score.clip(upper=R.OVERREACHING_CAP))
    score = score.mask(illness, score.clip(upper=R.ILLNESS_CAP))
    physiological = (
        pd.DataFrame({k: contributors[k] for k in ("hrv_balance", "last_night_hrv", "resting_hr", "sleep")})
        .notna()
        .any(axis=1)
    )

    reason = pd.Series(np.int8(R.REASON_NONE), index=df.index)
    reason = reason.mask(~physiological, np.int8(R.REASON_NO_RECENT))
    reason = reason.mask(hrv_history < R.MIN_HRV_DAYS, np.int8(R.REASON_CALIBRATING))
    reason = reason.mask((day - last_any.fillna(-1)) > R.NO_RECENT_AFTER_DAYS, np.int8(R.REASON_NO_RECENT))
    reason = reason.mask(last_any.isna() & ~df["earlier"], np.int8(R.REASON_NO_DATA))
    scored = reason.eq(R.REASON_NONE) & score.notna()
    score = score.where(scored)

    rounded = np.floor(score + 0.5)
    band = (rounded >= 40).astype(np.int8) + (rounded >= 65) + (rounded >= 85)
    status = (hrv_days >= R.PROVISIONAL_HRV_DAYS).astype(np.int8) + (hrv_days >= R.FULL_HRV_DAYS)
    status = np.maximum(status, (hrv_history >= R.PROVISIONAL_HRV_DAYS).astype(np.int8))
    return pd.DataFrame(
        {
            "athlete": athlete,
            "day": day,
            "score": score,
            "band": band.where(scored, -1).astype(np.int8),
            "status": status.where(scored, -1).astype(np.int8),
            "reason": reason.astype(np.int8),
            "stale": (hrv_stale | rhr_stale) & scored,
            "illness": illness & scored,
            "overreaching": overreaching & scored,
            "saturation": saturation & scored,
        }
    )
