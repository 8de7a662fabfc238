"""How well readiness (and a simple reference rule) picks out the cohort's labelled episodes.

Readiness is computed by the service's own batch path (:func:`compute_batch`). A day *alarms*
when its band is low or reduced; a saturation episode also counts as flagged on a day carrying
the ``hrv_unusually_high`` flag. Only days from :data:`~.cohort.WARMUP_DAYS` on are counted; a
day without a score (or, for the rule, without the data it needs) neither alarms nor is normal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.backtest.cohort import LABELS, QUIET, SATURATION, WARMUP_DAYS, Cohort
from perfhub.readiness.engine.batch import ReadinessArrays
from perfhub.readiness.engine.compute import compute_batch
from perfhub.readiness.engine.flags import FLAG_CODES, flag_bits
from perfhub.readiness.engine.rules import BAND_NAMES

__all__ = ["EARLY_DAYS", "SATURATION_NIGHTS", "evaluate", "figures", "readiness_signals", "reference_rule"]

EARLY_DAYS = 4  # an episode is caught early when flagged by its 4th day
SATURATION_NIGHTS = 3
REFERENCE_WINDOW = 60
REFERENCE_MIN_NIGHTS = 30  # of the 60, before the rule judges at all
_LOW, _REDUCED, _NORMAL = (BAND_NAMES.index(b) for b in ("low", "reduced", "normal"))
_HIGH_BIT = 1 << FLAG_CODES.index("hrv_unusually_high")

Progress = Callable[[int, int], None]


def readiness_signals(
    cohort: Cohort, *, chunk: int = 250, progress: Progress | None = None
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """(alarm, normal, unusually high) per athlete-day from :func:`compute_batch`, in chunks of
    athletes so progress can be told (rows are independent: chunking changes nothing)."""
    batch = cohort.batch
    a, d = batch.athletes, batch.days
    alarm = np.zeros((a, d), dtype=np.bool_)
    normal = np.zeros((a, d), dtype=np.bool_)
    high = np.zeros((a, d), dtype=np.bool_)
    for a0 in range(0, a, chunk):
        a1 = min(a0 + chunk, a)
        result: ReadinessArrays = compute_batch(batch.subset(slice(a0, a1)))
        alarm[a0:a1] = (result.band == _LOW) | (result.band == _REDUCED)
        normal[a0:a1] = result.band == _NORMAL
        rows, cols = np.indices(result.band.shape)
        high[a0:a1] = (flag_bits(result, rows, cols) & _HIGH_BIT) != 0
        if progress is not None:
            progress(a1, a)
    return alarm, normal, high


def _windowed(values: NDArray[np.float64], window: int) -> tuple[NDArray[np.float64], ...]:
    """Sum, sum of squares and count of the non-missing values in the ``window`` days ending on
    each day (inclusive)."""
    valid = ~np.isnan(values)
    x = np.where(valid, values, 0.0)
    a, d = values.shape
    out = []
    for part in (x, x * x, valid.astype(np.float64)):
        c = np.zeros((a, d + 1))
        np.cumsum(part, axis=1, out=c[:, 1:])
        lo = np.maximum(np.arange(1, d + 1) - window, 0)
        out.append(c[:, 1:] - c[:, lo])
    return tuple(out)


def reference_rule(ln_hrv: NDArray[np.float64], resting_hr: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The rule readiness is compared with, per athlete-day: the 7-day ln rMSSD mean below the
    60-day mean − 0.5 SD, or the night below the 60-day mean − 1 SD with resting HR at least
    5 bpm over its 60-day mean. Windows end on the day; fewer than 30 nights judge nothing."""
    s7, _, n7 = _windowed(ln_hrv, 7)
    s60, q60, n60 = _windowed(ln_hrv, REFERENCE_WINDOW)
    r60, _, m60 = _windowed(resting_hr, REFERENCE_WINDOW)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean7 = s7 / n7
        mean60 = s60 / n60
        sd60 = np.sqrt(np.maximum(q60 / n60 - mean60**2, 0.0) * n60 / np.maximum(n60 - 1, 1))
        rhr60 = r60 / m60
        ready = n60 >= REFERENCE_MIN_NIGHTS
        week_low = mean7 < mean60 - 0.5 * sd60
        night_low = (ln_hrv < mean60 - sd60) & (resting_hr >= rhr60 + 5.0)
    return np.asarray(ready & (week_low | night_low))


def figures(
    alarm: NDArray[np.bool_],
    normal: NDArray[np.bool_],
    saturation_flag: NDArray[np.bool_],
    cohort_labels: NDArray[np.int8],
    episodes: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int8]],
    *,
    from_day: int = WARMUP_DAYS,
) -> dict[str, Any]:
    """The figures for one method: per episode type the share of its days alarming, of its
    episodes flagged by day 4 and (saturation) within 3 nights; on quiet days the share alarming
    (false alarms) and the share ``normal``. Shares are of the days from ``from_day`` on."""
    athlete, start, length, kind = episodes
    counted = np.zeros(alarm.shape, dtype=np.bool_)
    counted[:, from_day:] = True
    out: dict[str, Any] = {}
    for code, name in enumerate(LABELS):
        days = counted & (cohort_labels == code)
        if code == QUIET:
            out[name] = {
                "days": int(days.sum()),
                "falseAlarms": _share(alarm[days]),
                "normal": _share(normal[days]),
            }
            continue
        flag = alarm | saturation_flag if code == SATURATION else alarm
        mine = (kind == code) & (start >= from_day)
        who, first, span = athlete[mine], start[mine], length[mine]
        entry = {
            "episodes": int(mine.sum()),
            "days": int(days.sum()),
            "daysAlarming": _share(alarm[days]),
            "flaggedByDay4": _share(_flagged_within(flag, who, first, span, EARLY_DAYS)),
        }
        if code == SATURATION:
            entry["flaggedWithin3Nights"] = _share(_flagged_within(flag, who, first, span, SATURATION_NIGHTS))
        out[name] = entry
    return out


def _flagged_within(
    flag: NDArray[np.bool_],
    athlete: NDArray[np.int64],
    start: NDArray[np.int64],
    length: NDArray[np.int64],
    within: int,
) -> NDArray[np.bool_]:
    offsets = np.arange(within)[None, :]
    cols = start[:, None] + np.minimum(offsets, length[:, None] - 1)
    cols = np.minimum(cols, flag.shape[1] - 1)
    return np.asarray(flag[athlete[:, None], cols].any(axis=1))


def _share(values: NDArray[np.bool_]) -> float | None:
    return round(float(values.mean()), 4) if values.size else None


def evaluate(cohort: Cohort, *, progress: Progress | None = None) -> dict[str, Any]:
    """Readiness and the reference rule on the cohort, side by side."""
    alarm, normal, high = readiness_signals(cohort, progress=progress)
    episodes = (cohort.episode_athlete, cohort.episode_start, cohort.episode_days, cohort.episode_kind)
    rule = reference_rule(cohort.batch.ln_hrv, cohort.batch.resting_hr)
    # The rule has no bands: a quiet day is "normal" to it whenever it does not fire.
    rule_normal = ~rule
    rule_normal[:, :WARMUP_DAYS] = False
    return {
        "readiness": figures(alarm, normal, high, cohort.labels, episodes),
        "reference": figures(rule, rule_normal, np.zeros_like(rule), cohort.labels, episodes),
    }
