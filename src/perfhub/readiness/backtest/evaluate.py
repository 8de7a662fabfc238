"""How well readiness (and a simple reference rule) picks out the cohort's labelled episodes.

Readiness is computed by the service's own path: the athletes' readings through
:func:`build_batch` into :func:`compute_batch` (:func:`score_cohort`), and a sample of athletes is
also served alone, as after an event, to check that it gives the same days
(:func:`served_equals_batch`). The reference rule reads the same batch.

A day *alarms* when its band is low or reduced, or when it carries the ``illness`` or
``overreaching`` flag; a saturation episode also counts as flagged on a day carrying
``hrv_unusually_high``. Only days from :data:`~.cohort.WARMUP_DAYS` on are counted; a day without
a score (or, for the rule, without the data it needs) neither alarms nor is normal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfhub.readiness.backtest.cohort import (
    ILLNESS,
    LABELS,
    OVERREACHING,
    QUIET,
    SATURATION,
    SLEEP_RESTRICTION,
    WARMUP_DAYS,
    Cohort,
)
from perfhub.readiness.engine.batch import ReadinessArrays, SeriesBatch
from perfhub.readiness.engine.compute import compute_batch
from perfhub.readiness.engine.flags import FLAG_CODES, flag_bits, flag_codes
from perfhub.readiness.engine.rules import BAND_NAMES, STATUS_NAMES, round_score
from perfhub.readiness.engine.series import build_batch
from perfhub.readiness.engine.snapshot import snapshot

__all__ = [
    "EARLY_DAYS",
    "HISTORY_NIGHTS",
    "LOW_EPISODES",
    "SATURATION_NIGHTS",
    "Curve",
    "Scored",
    "ServedCheck",
    "evaluate",
    "figures",
    "reference_rule",
    "sample_rows",
    "score_cohort",
    "served_equals_batch",
    "sweep",
]

EARLY_DAYS = 4  # an episode is caught early when flagged by its 4th day
SATURATION_NIGHTS = 3
REFERENCE_WINDOW = 60
REFERENCE_MIN_NIGHTS = 30  # of the 60, before the rule judges at all
# An athlete with this many nights of HRV (any device) must never be answered "calibrating".
HISTORY_NIGHTS = 60
# The episodes readiness should answer with a lower score (saturation is caught by a flag).
LOW_EPISODES = (ILLNESS, OVERREACHING, SLEEP_RESTRICTION)
_LOW, _REDUCED, _NORMAL = (BAND_NAMES.index(b) for b in ("low", "reduced", "normal"))
_BIT = {code: 1 << position for position, code in enumerate(FLAG_CODES)}
_ALARM_BITS = _BIT["illness"] | _BIT["overreaching"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class Scored:
    """Readiness on the cohort: the engine's input and output, and the per-day signals the
    counting reads off them (all athletes × days)."""

    batch: SeriesBatch
    result: ReadinessArrays
    alarm: NDArray[np.bool_]
    normal: NDArray[np.bool_]
    unusually_high: NDArray[np.bool_]
    sleep_debt: NDArray[np.bool_]
    calibrating: NDArray[np.bool_]
    hrv_nights: NDArray[np.int64]  # nights with HRV from any device, up to the day


def score_cohort(cohort: Cohort, *, chunk: int = 250, progress: Progress | None = None) -> Scored:
    """Readiness for every athlete-day, by the path the service runs (``build_batch`` over all
    athletes, then ``compute_batch``). The batch is computed in chunks of athletes only so that
    progress can be told: rows are independent, and :func:`served_equals_batch` checks it."""
    batch = build_batch(cohort.athletes, cohort.start, cohort.end)
    a, d = batch.athletes, batch.days
    result = ReadinessArrays.allocate(a, d)
    for a0 in range(0, a, chunk):
        a1 = min(a0 + chunk, a)
        part = compute_batch(batch.subset(slice(a0, a1)))
        for f in fields(ReadinessArrays):
            getattr(result, f.name)[a0:a1] = getattr(part, f.name)
        if progress is not None:
            progress(a1, a)
    every = (slice(None), slice(None))
    bits = flag_bits(result, *every)
    nights = np.zeros((a, d), dtype=np.int64)
    for row, athlete in enumerate(cohort.athletes):
        nights[row, athlete.hrv["day"] - cohort.start.toordinal()] = 1
    return Scored(
        batch=batch,
        result=result,
        alarm=(result.band == _LOW) | (result.band == _REDUCED) | ((bits & _ALARM_BITS) != 0),
        normal=result.band == _NORMAL,
        unusually_high=(bits & _BIT["hrv_unusually_high"]) != 0,
        sleep_debt=(bits & _BIT["sleep_debt"]) != 0,
        calibrating=(bits & _BIT["calibrating"]) != 0,
        hrv_nights=np.cumsum(nights, axis=1),
    )


Served = tuple[int | None, str | None, str | None, tuple[str, ...]]


def _from_batch(result: ReadinessArrays, row: int, col: int) -> Served:
    """What a snapshot of the day would say, read straight out of the arrays."""
    raw = float(result.score[row, col])
    if raw != raw:  # NaN: no score
        return None, None, None, flag_codes(int(flag_bits(result, row, col)))
    status = int(result.status[row, col])
    return (
        round_score(raw),
        BAND_NAMES[int(result.band[row, col])],
        STATUS_NAMES[status] if status >= 0 else None,
        flag_codes(int(flag_bits(result, row, col))),
    )


def sample_rows(cohort: Cohort, sample: int) -> list[int]:
    """Up to ``sample`` athletes, half of them (when there are) with a device switch or a stray
    night, the rest spread over the cohort; the same for the same cohort."""
    a = len(cohort.athletes)
    devices = np.flatnonzero((cohort.switch_day >= 0) | (cohort.stray_day >= 0))[: sample // 2]
    chosen = [int(row) for row in devices]
    for row in range(0, a, max(1, a // max(1, sample))):
        if len(chosen) >= min(sample, a):
            break
        if row not in chosen:
            chosen.append(row)
    return sorted(chosen)


@dataclass(frozen=True)
class ServedCheck:
    """Athletes served alone against the cohort-wide batch: how many athlete-days were compared,
    how many differ (on how many athletes) and the first difference, None when identical."""

    athletes: int
    athlete_days: int
    differing_days: int = 0
    differing_athletes: int = 0
    first_difference: str | None = None

    @property
    def identical(self) -> bool:
        return self.differing_days == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "athletes": self.athletes,
            "athleteDays": self.athlete_days,
            "identical": self.identical,
            "differingDays": self.differing_days,
            "differingAthletes": self.differing_athletes,
            "firstDifference": self.first_difference,
        }


def served_equals_batch(
    cohort: Cohort,
    scored: Scored,
    *,
    sample: int = 20,
    rows: list[int] | None = None,
    progress: Progress | None = None,
) -> ServedCheck:
    """Serve a sample of athletes (or ``rows``) alone, as the service serves one athlete: a batch
    of that athlete from their first reading (``build_batch`` → ``compute_batch`` → ``snapshot``),
    and compare every day's score, band, status and flags with the cohort-wide batch."""
    chosen = sample_rows(cohort, sample) if rows is None else rows
    compared = differing = 0
    athletes_differing = 0
    first: str | None = None
    for done, row in enumerate(chosen, start=1):
        athlete = cohort.athletes[row]
        begin = athlete.first_day()
        if begin is not None:
            alone = build_batch([athlete], begin, cohort.end)
            result = compute_batch(alone, workers=1)
            offset = (begin - cohort.start).days
            before = differing
            for col in range(alone.days):
                snap = snapshot(alone, result, 0, col)
                served: Served = (snap.score, snap.band, snap.status, snap.flags)
                batched = _from_batch(scored.result, row, col + offset)
                if served != batched:
                    differing += 1
                    first = first or (
                        f"athlete {athlete.user_id} on {snap.date}: served alone {served}, "
                        f"in the cohort batch {batched}"
                    )
                compared += 1
            athletes_differing += differing > before
        if progress is not None:
            progress(done, len(chosen))
    return ServedCheck(len(chosen), compared, differing, athletes_differing, first)


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


Episodes = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int8]]


def figures(
    alarm: NDArray[np.bool_],
    normal: NDArray[np.bool_],
    saturation_flag: NDArray[np.bool_] | None,
    cohort_labels: NDArray[np.int8],
    episodes: Episodes,
    *,
    sleep_debt: NDArray[np.bool_] | None = None,
    calibrating: NDArray[np.bool_] | None = None,
    hrv_nights: NDArray[np.int64] | None = None,
    from_day: int = WARMUP_DAYS,
) -> dict[str, Any]:
    """The figures for one method. Per episode type: the share of its days alarming, of its
    episodes flagged by day 4 and (saturation, also by ``saturation_flag``) within 3 nights. On
    quiet days: the share alarming (false alarms), ``normal``, carrying ``saturation_flag``, and
    the share of athletes with ``sleep_debt`` on most of their quiet days. Shares are of the days
    from ``from_day`` on. ``calibrating``: the days (any day, any label) answered calibrating to
    an athlete with :data:`HISTORY_NIGHTS` nights of HRV. A signal the method does not have
    (None) gives None."""
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
                "unusuallyHigh": None if saturation_flag is None else _share(saturation_flag[days]),
                "sleepDebtAthletes": None if sleep_debt is None else _mostly(sleep_debt, days),
            }
            continue
        flag = alarm | saturation_flag if code == SATURATION and saturation_flag is not None else alarm
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
    if calibrating is None or hrv_nights is None:
        out["calibrating"] = {"days": None, "athletes": None}
    else:
        wrong = calibrating & (hrv_nights >= HISTORY_NIGHTS)
        out["calibrating"] = {"days": int(wrong.sum()), "athletes": int(wrong.any(axis=1).sum())}
    return out


def _mostly(flag: NDArray[np.bool_], days: NDArray[np.bool_]) -> float | None:
    """Share of the athletes with any of ``days`` whose ``days`` carry ``flag`` more than half
    the time."""
    per_athlete = days.sum(axis=1)
    flagged = (flag & days).sum(axis=1)
    some = per_athlete > 0
    return _share(flagged[some] * 2 > per_athlete[some])


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


@dataclass(frozen=True, eq=False)
class Curve:
    """Sensitivity against false alarms as the score threshold ``t`` moves (readiness alarms when
    the displayed score is below ``t``): per threshold, the share of the episode days of each
    kind in :data:`LOW_EPISODES` caught (``caught[kind]``), of all of them together
    (``caught_all``), and of the quiet days alarming. Days without a score are never caught."""

    thresholds: NDArray[np.int64]
    caught: dict[str, NDArray[np.float64]]
    caught_all: NDArray[np.float64]
    false_alarms: NDArray[np.float64]


def sweep(score: NDArray[np.float64], labels: NDArray[np.int8], *, from_day: int = WARMUP_DAYS) -> Curve:
    """The :class:`Curve` of ``score`` (NaN: no score) against the labels, days from ``from_day``."""
    thresholds = np.arange(0, 102, dtype=np.int64)  # 101: every score alarms
    shown = np.floor(score[:, from_day:] + 0.5)  # the displayed score, as the bands read it
    kinds = labels[:, from_day:]

    def below(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        values = np.sort(shown[mask & ~np.isnan(shown)])
        total = max(int(mask.sum()), 1)
        return np.asarray(np.searchsorted(values, thresholds, side="left") / total, dtype=np.float64)

    return Curve(
        thresholds=thresholds,
        caught={LABELS[code]: below(kinds == code) for code in LOW_EPISODES},
        caught_all=below(np.isin(kinds, LOW_EPISODES)),
        false_alarms=below(kinds == QUIET),
    )


def _point(alarm: NDArray[np.bool_], labels: NDArray[np.int8], from_day: int) -> dict[str, float | None]:
    """One operating point: the share of :data:`LOW_EPISODES` days alarming, and of quiet days."""
    alarm, labels = alarm[:, from_day:], labels[:, from_day:]
    return {
        "caught": _share(alarm[np.isin(labels, LOW_EPISODES)]),
        "falseAlarms": _share(alarm[labels == QUIET]),
    }


def evaluate(cohort: Cohort, scored: Scored) -> tuple[dict[str, Any], Curve]:
    """Readiness and the reference rule on the cohort, side by side, and readiness's curve.

    The figures have one entry per method (see :func:`figures`) and ``operatingPoints``: the share
    of illness, overreaching and sleep-restriction days caught against quiet days alarming, for
    readiness below 65 (the band edge), readiness as it alarms (bands and flags) and the rule.
    """
    episodes = (cohort.episode_athlete, cohort.episode_start, cohort.episode_days, cohort.episode_kind)
    rule = reference_rule(scored.batch.ln_hrv, scored.batch.resting_hr)
    # The rule has no bands: a quiet day is "normal" to it whenever it does not fire.
    rule_normal = ~rule
    rule_normal[:, :WARMUP_DAYS] = False
    labels = cohort.labels
    shown = np.floor(scored.result.score + 0.5)
    with np.errstate(invalid="ignore"):
        below_edge = shown < 65
    out = {
        "readiness": figures(
            scored.alarm,
            scored.normal,
            scored.unusually_high,
            labels,
            episodes,
            sleep_debt=scored.sleep_debt,
            calibrating=scored.calibrating,
            hrv_nights=scored.hrv_nights,
        ),
        "reference": figures(rule, rule_normal, None, labels, episodes),
        "operatingPoints": {
            "readinessBelow65": _point(below_edge, labels, WARMUP_DAYS),
            "readiness": _point(scored.alarm, labels, WARMUP_DAYS),
            "reference": _point(rule, labels, WARMUP_DAYS),
        },
    }
    return out, sweep(scored.result.score, labels)
