"""Idiomatic pandas reference implementation of the readiness rules (docs/readiness.md).

Same rules, same score curves (their knots are imported from ``perfhub.readiness.engine.curves``),
written the way one would in pandas: one long DataFrame (athlete, day), ``groupby(...).rolling``
windows, ``groupby().ffill()`` for "latest reading", no Python loop over days or athletes. It
exists to benchmark the numpy batch path against, and to cross-check its results.
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
        }
    )


def _curve(values: pd.Series, curve: C.Curve) -> pd.Series:
    return pd.Series(np.interp(values.to_numpy(), curve.xp, curve.fp), index=values.index)


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
    """Score, band, status and reason for every row of ``batch_to_frame`` output."""
    day = df["day"]
    athlete = df["athlete"]
    by_athlete = df.groupby("athlete", sort=False)
    v = df["ln_hrv"].notna()

    # Effective segments: caller segment runs, split where the metric of a reading differs
    # from the previous reading of the same caller segment.
    seg_change = df["segment"].ne(by_athlete["segment"].shift())
    caller_run = seg_change.cumsum()
    metric = df["is_sdnn"].astype(float).where(v)
    prev_metric = metric.groupby(caller_run).ffill().groupby(caller_run).shift()
    metric_change = v & prev_metric.notna() & metric.ne(prev_metric)
    run = (seg_change | metric_change).cumsum()
    seg_start = day.groupby(run).transform("min")

    # HRV windows inside the segment.
    ln7 = _rolling(df["ln_hrv"], run, R.HRV_WINDOW, R.HRV_MIN_READINGS, "mean")
    mean60 = _rolling(df["ln_hrv"], run, R.BASELINE_WINDOW, R.BASELINE_MIN_READINGS, "mean")
    sd60 = _rolling(df["ln_hrv"], run, R.BASELINE_WINDOW, R.BASELINE_MIN_READINGS, "std")
    mean60 = mean60.groupby(run).shift()
    sd60 = sd60.groupby(run).shift().clip(lower=R.SD_FLOOR)
    normal_low = mean60 - R.RANGE_HALF_WIDTH_SD * sd60
    hrv_days = v.groupby(run).cumsum()

    def latest(values: pd.Series, mean7: pd.Series) -> tuple[pd.Series, pd.Series]:
        valid = values.notna()
        last = day.where(valid).groupby(athlete).ffill()
        age = day - last
        in_segment = last >= seg_start
        stale = in_segment & (age >= R.STALE_AFTER_DAYS)
        fresh = in_segment & (age < R.STALE_AFTER_DAYS)
        value = values.groupby(athlete).ffill().where(fresh, mean7.where(stale))
        return value, stale

    hrv_value, hrv_stale = latest(df["ln_hrv"], ln7)

    rhr7 = _rolling(df["rhr"], run, R.HRV_WINDOW, R.HRV_MIN_READINGS, "mean")
    rhr_base = _rolling(df["rhr"], run, R.BASELINE_WINDOW, R.BASELINE_MIN_READINGS, "mean")
    rhr_base = rhr_base.groupby(run).shift()
    rhr_value, rhr_stale = latest(df["rhr"], rhr7)
    rhr_delta = rhr_value - rhr_base

    any_signal = v | df["rhr"].notna() | df["sleep"].notna()
    last_any = day.where(any_signal).groupby(athlete).ffill()

    # Sleep and sleep debt (linear 14-night weights as in sleep_debt.compute_debt).
    need = df["need"].where(df["need"] > 0, S.DEFAULT_SLEEP_NEED_MIN)
    sleep_score = _weighted(
        {
            "duration": _curve(df["sleep"] / need, C.SLEEP_DURATION_CURVE),
            "efficiency": _curve(df["eff"], C.EFFICIENCY_CURVE),
            "latency": _curve(df["lat"], C.LATENCY_CURVE),
            "wakes": _curve(df["wakes"], C.WAKES_CURVE),
        },
        C.SLEEP_PART_WEIGHTS,
    ).where(df["sleep"].notna())
    present = df["sleep"].notna().astype(float)
    short = ((need - df["sleep"]).clip(lower=-S.SURPLUS_CAP_MIN) / 60.0).fillna(0.0)
    w = S.DEBT_WINDOW
    nights = _rolling(present, athlete, w, 1, "sum")
    offset = day - w
    num = _rolling(short * day, athlete, w, 1, "sum") - offset * _rolling(short, athlete, w, 1, "sum")
    den = _rolling(present * day, athlete, w, 1, "sum") - offset * nights
    debt = (num / den * S.DEBT_WEIGHT_TOTAL).where(nights >= S.DEBT_MIN_NIGHTS).clip(lower=0.0)

    # Training load from the first logged day; later unlogged days are rest days.
    logged = df["load"].notna()
    first = day.where(logged).groupby(athlete).transform("min")
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

    contributors = {
        "hrv_balance": _curve((ln7 - mean60) / sd60, C.HRV_BALANCE_CURVE),
        "last_night_hrv": _curve((hrv_value - ln7) / sd60, C.LAST_NIGHT_CURVE),
        "resting_hr": _curve(rhr_delta, C.RHR_CURVE),
        "sleep": sleep_score,
        "sleep_debt": _curve(debt, C.DEBT_CURVE),
        "training_load": load_score,
    }
    score = _weighted(contributors, R.WEIGHTS)
    physiological = (
        pd.DataFrame({k: contributors[k] for k in ("hrv_balance", "last_night_hrv", "resting_hr", "sleep")})
        .notna()
        .any(axis=1)
    )
    illness = (rhr_delta >= R.ILLNESS_RHR_DELTA) & (ln7 < normal_low) & score.notna()
    score = score.mask(illness, score.clip(upper=R.ILLNESS_CAP))

    reason = pd.Series(np.int8(R.REASON_NONE), index=df.index)
    reason = reason.mask(~physiological, np.int8(R.REASON_NO_RECENT))
    reason = reason.mask(hrv_days < R.MIN_HRV_DAYS, np.int8(R.REASON_CALIBRATING))
    reason = reason.mask((day - last_any) > R.NO_RECENT_AFTER_DAYS, np.int8(R.REASON_NO_RECENT))
    reason = reason.mask(last_any.isna(), np.int8(R.REASON_NO_DATA))
    scored = reason.eq(R.REASON_NONE)
    score = score.where(scored)

    rounded = np.floor(score + 0.5)
    band = (rounded >= 40).astype(np.int8) + (rounded >= 65) + (rounded >= 85)
    status = (hrv_days >= R.PROVISIONAL_HRV_DAYS).astype(np.int8) + (hrv_days >= R.FULL_HRV_DAYS)
    return pd.DataFrame(
        {
            "athlete": athlete,
            "day": day,
            "score": score,
            "band": band.where(scored, -1).astype(np.int8),
            "status": status.where(scored, -1).astype(np.int8),
            "reason": reason.astype(np.int8),
            "stale": (hrv_stale | rhr_stale) & scored,
        }
    )
