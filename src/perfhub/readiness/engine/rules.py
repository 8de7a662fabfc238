"""The readiness rules as numbers: contributors and weights, window lengths, bands (docs/readiness.md).

Rules (day ``d`` of an athlete; "segment" = the run of days sharing one HRV source and metric):

* Missing values are NaN and never count as zero; every HRV/RHR window is restricted to the
  day's segment. A segment starts wherever ``segment`` changes, and also at the first reading
  whose metric (rMSSD ↔ SDNN) differs from the previous reading of the same segment, so the
  two measures can never share a baseline even if the caller forgot to split them.
* 7-day HRV: mean of ln HRV over days d−6…d, valid with ≥ 3 readings (Plews et al. 2014).
* Normal range: mean ± 0.5 SD of days d−60…d−1 (HRV4Training; 0.5 SD ≈ smallest worthwhile
  change), SD floored at 0.05 ln units, usable with ≥ ``BASELINE_MIN_READINGS`` (4) readings.
* Resting HR baseline: mean of days d−60…d−1, ≥ 4 readings.
* Staleness, in days because readings are attributed to the wake-up date: last night is the
  reading dated d; when it is missing the signal is *stale*. HRV's last-night contributor is
  then left out (weighted as missing), and its 7-day mean, when the week holds fewer than 3
  readings, is the one as of the latest reading (≤ 7 days). Resting HR uses yesterday's reading
  (under 36 h old), else the 7-day mean as of the latest one (≤ 7 days).
* Contributors are piecewise-linear curves (:mod:`.curves`) scoring 0–100, ~75 at the
  athlete's own baseline. HRV balance is two-sided (Kiviniemi 2007, Vesterinen 2016): above the
  range it never scores more than inside it. Last-night HRV is scored against the 7-day mean in
  units of the 60-day SD; drops beyond 1 SD cost steeply (Kiviniemi 2007). Resting HR costs from
  +3 bpm, strongly from +5 (Oura, Polar). Sleep: duration vs need (set, or estimated from the
  last 60 nights), efficiency ≥ 85 %, latency ≤ 30 min, wakes (Ohayon 2017). Sleep debt:
  :mod:`.sleep_debt`. Training load, only once logged: ACWR 7/28-day (Gabbett 2016, soft) and
  TSB = 42-day − 7-day mean load (Banister/PMC), relative to the 42-day mean.
* Readiness = weighted mean of the contributors present (``WEIGHTS``, renormalised), then capped:
  at 64 on an overreaching trend (a 7-night CUSUM of nightly shortfalls below the 60-day mean),
  at 39 on illness (resting HR +5 with HRV below range this week or last night, or resting HR +3
  with last night 1 SD down). Saturation (HRV far above range, resting HR normal) caps the HRV
  contributors at a typical day's.
* No score when: no signal ever up to d (``no_data``); no HRV/RHR/sleep reading for more than 7
  days, or none of the physiological contributors (HRV balance, last-night HRV, resting HR,
  sleep) computable — sleep debt and load alone do not make a score (``no_recent_data``); < 4
  valid HRV days from any source in the last 120 days (``calibrating``). Otherwise status by the
  segment's HRV days in the last 120: calibrating (4–20), provisional (21–59), full (≥ 60), and
  at least provisional for an athlete with 21 HRV days from any source.
* Memory: a day depends on at most ``MEMORY_DAYS`` of inputs (docs/readiness.md#windows).

"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from perfhub.training import load

__all__ = [
    "ALGORITHM_VERSION",
    "BAND_NAMES",
    "CONTRIBUTORS",
    "HISTORY_DAYS",
    "LOOKBACK_DAYS",
    "MEMORY_DAYS",
    "REASON_NAMES",
    "RULES_REVISION",
    "STATUS_NAMES",
    "WEIGHTS",
    "band_codes",
    "band_for",
    "round_score",
]

ALGORITHM_VERSION = "1.1.0"
# Raised whenever the rules change under the same version (a tuning before release): it is part
# of every day's inputs hash, so ``perfhub recompute`` rewrites the days the change moved, which
# an unchanged hash would skip. Revision 2: the overreaching trend became a recency-weighted run.
RULES_REVISION = 2

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
# Last night's reading is the one dated the day itself: a missing night is stale from day 1.
STALE_AFTER_DAYS = 1
# A reading dated the day before is at most ~36 h old: resting HR still uses it as it is.
RHR_FRESH_DAYS = 1
NO_RECENT_AFTER_DAYS = 7
MIN_HRV_DAYS = 4
PROVISIONAL_HRV_DAYS = 21
FULL_HRV_DAYS = 60
ILLNESS_RHR_DELTA = 5.0
# Illness (the cap at 39) is resting HR +5 bpm with HRV below its normal range — this week's
# mean, or the newest night's alone (the onset night, before the weekly mean moves) — or the
# newest night a full SD below the baseline with resting HR up by 3 bpm (where the resting-HR
# curve starts to cost).
ILLNESS_NIGHT_SD = 0.5
ILLNESS_STRONG_NIGHT_SD = 1.0
ILLNESS_RHR_SOFT_DELTA = 3.0
ILLNESS_CAP = 39.0
# Overreaching: nightly HRV below the 60-day mean (in SD) over a run of the last 2 …
# TREND_WINDOW days, each night weighted by its place in the run (newest heaviest), reaching
# TREND_ALARM_SD over at least TREND_MIN_NIGHTS nights with readings.
TREND_WINDOW = 4
TREND_ALARM_SD = 2.1
TREND_MIN_NIGHTS = 2
OVERREACHING_CAP = 64.0
# Saturation: a night this many SD above the 60-day mean, or a 7-day mean 1 SD above it, with
# resting HR within SATURATION_RHR_DELTA bpm of baseline.
SATURATION_NIGHT_SD = 2.0
SATURATION_WEEK_SD = 1.0
SATURATION_RHR_DELTA = 3.0
# A new HRV source is described as such for this many days after it took over.
SOURCE_CHANGE_DAYS = 28
# The load windows are the training domain's (ACWR needs a chronic window; three weeks of
# logging is the least that makes 7:28 meaningful).
ACUTE_DAYS, CHRONIC_DAYS, CTL_DAYS, LOAD_MIN_HISTORY_DAYS = (
    load.ACUTE_DAYS,
    load.CHRONIC_DAYS,
    load.CTL_DAYS,
    load.LOAD_MIN_HISTORY_DAYS,
)


# The furthest any rule reads raw inputs back: the 14 nights of sleep debt, each against the
# need estimated from the 60 nights before it (the HRV trend reaches 4 + 60 days).
LOOKBACK_DAYS = 14 + BASELINE_WINDOW
# Status counts valid HRV days over this many days, not since the beginning of time, so that
# nothing the engine computes depends on more than ``MEMORY_DAYS`` of history.
HISTORY_DAYS = 120
# The engine's memory: a day's result depends only on the inputs of its last ``MEMORY_DAYS``
# days: the status window, plus the 66 days over which each of its days' primary HRV source is
# chosen (``series.PRIMARY_MEMORY_DAYS``), with a few to spare.
# A recompute of days ≥ s therefore only needs the readings from s − MEMORY_DAYS on, and its
# results equal those of a batch over the whole history; the cost of a new night does not grow
# with the length of the history.
MEMORY_DAYS = HISTORY_DAYS + 70


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
