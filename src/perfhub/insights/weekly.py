"""A week's summary and the sentences it earns: pure arithmetic, no I/O (docs/weekly.md).

A week is an ISO week, Monday to Sunday, in the athlete's own calendar: the days are the dates of
the stored readiness snapshots, which are already the athlete's local days. A day without a
snapshot (or without the value asked for) is missing: it is left out of every mean and count,
never read as zero. Training load is the exception, as in :mod:`perfhub.training.load`: from the
first day anything was logged, a day with nothing logged is a rest day.

The figures (:func:`summarise`) and, from them, one to three sentences chosen by the rules of
:data:`RULES`, tried in that order; each sentence cites the numbers that made it fire and names
the signals those numbers come from, so that a coach is shown only the sentences whose signals
the athlete shares with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from perfhub.plans.adherence import Tally
from perfhub.readiness.engine.rules import BAND_NAMES
from perfhub.readiness.engine.sleep_debt import category_for

__all__ = [
    "ADHERENCE_LOW_RATE",
    "DEBT_TREND_HOURS",
    "FIGURE_SIGNALS",
    "HRV_BELOW_DAYS",
    "LOAD_SPIKE_RATIO",
    "MAX_SENTENCES",
    "MIN_SCORED_DAYS",
    "READINESS_DROP",
    "RHR_RISE_BPM",
    "RULES",
    "RULES_VERSION",
    "Day",
    "Sentence",
    "WeekInputs",
    "choose_sentences",
    "inputs_digest",
    "iso_week",
    "parse_week",
    "previous_weeks",
    "summarise",
    "week_days",
]

# Bumped whenever a rule or a figure changes meaning: stored summaries are then recomputed.
RULES_VERSION = "1"

READINESS_DROP = 8.0  # points of weekly mean readiness, week over week
MIN_SCORED_DAYS = 3  # a weekly readiness mean needs at least this many scored days
HRV_BELOW_DAYS = 3  # days with the 7-day HRV below the normal range
RHR_RISE_BPM = 3.0  # weekly mean resting HR over the mean of its baseline
DEBT_TREND_HOURS = 0.25  # sleep debt moving less than this over the week is steady
LOAD_SPIKE_RATIO = 1.3  # the week's load against the mean of the previous four weeks
ADHERENCE_LOW_RATE = 0.70
MAX_SENTENCES = 3
LOAD_WEEKS = 4

# The signal each group of figures is made of (docs/architecture.md#privacy): what a coach must
# be granted to see it.
FIGURE_SIGNALS: Mapping[str, str] = {
    "readiness": "readiness",
    "hrv": "hrv",
    "restingHr": "hrv",
    "sleep": "sleep",
    "load": "training",
    "adherence": "training",
}


@dataclass(frozen=True)
class Day:
    """One stored readiness snapshot, as the summary reads it."""

    date: date
    score: float | None
    band: str | None
    flags: tuple[str, ...]
    baselines: Mapping[str, float | None]


@dataclass(frozen=True)
class WeekInputs:
    """Everything one athlete's week is computed from.

    ``days``: the snapshots of the week and of the week before (others are ignored);
    ``loads``: daily training load (session RPE × minutes, summed) over the week and the four
    before it; ``load_since``: the first day anything was ever logged (None: never);
    ``adherence``: planned sessions of the week and how many were kept.
    """

    week: date  # its Monday
    days: Sequence[Day]
    loads: Mapping[date, float]
    load_since: date | None
    adherence: Tally


@dataclass(frozen=True)
class Sentence:
    rule: str
    text: str
    signals: tuple[str, ...]
    cites: Mapping[str, Any]

    def out(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "text": self.text,
            "signals": list(self.signals),
            "cites": dict(self.cites),
        }


# --------------------------------------------------------------------------------------------
# Weeks
# --------------------------------------------------------------------------------------------


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(value: str) -> date:
    """The Monday of ISO week ``YYYY-Www``; ValueError for anything else (W53 of a 52-week year)."""
    if len(value) != 8 or value[4:6] != "-W" or not (value[:4] + value[6:]).isdigit():
        raise ValueError(f"a week is YYYY-Www, got {value!r}")
    return date.fromisocalendar(int(value[:4]), int(value[6:]), 1)


def week_days(monday: date) -> list[date]:
    return [monday + timedelta(days=i) for i in range(7)]


def previous_weeks(monday: date, count: int = LOAD_WEEKS) -> list[date]:
    """The Mondays of the ``count`` weeks before, the nearest first."""
    return [monday - timedelta(weeks=i) for i in range(1, count + 1)]


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return None if not values else round(sum(values) / len(values), 1)


def _value(day: Day, key: str) -> float | None:
    value = day.baselines.get(key)
    return None if value is None else float(value)


def _readiness(this: Sequence[Day], before: Sequence[Day]) -> dict[str, Any]:
    scores = [float(d.score) for d in this if d.score is not None]
    previous = [float(d.score) for d in before if d.score is not None]
    mean = _mean(scores) if len(scores) >= MIN_SCORED_DAYS else None
    previous_mean = _mean(previous) if len(previous) >= MIN_SCORED_DAYS else None
    flags: dict[str, int] = {}
    for d in this:
        for code in d.flags:
            flags[code] = flags.get(code, 0) + 1
    return {
        "scoredDays": len(scores),
        "mean": mean,
        "previousMean": previous_mean,
        "change": None if mean is None or previous_mean is None else round(mean - previous_mean, 1),
        "bandDays": {band: sum(1 for d in this if d.band == band) for band in BAND_NAMES},
        "flagDays": flags,
        "daily": [{"date": d.date.isoformat(), "score": d.score, "band": d.band} for d in this],
    }


def _hrv(this: Sequence[Day]) -> dict[str, Any]:
    daily = []
    below = within = above = 0
    for d in this:
        ln7, low, high = _value(d, "ln7"), _value(d, "normalLow"), _value(d, "normalHigh")
        if ln7 is None or low is None or high is None:
            continue
        # The comparison readiness makes (docs/readiness.md#normal-range): the 7-day mean of ln HRV.
        if ln7 < low:
            below += 1
        elif ln7 > high:
            above += 1
        else:
            within += 1
        daily.append({"date": d.date.isoformat(), "ln7": ln7, "normalLow": low, "normalHigh": high})
    return {
        "days": len(daily),
        "belowRange": below,
        "withinRange": within,
        "aboveRange": above,
        "daily": daily,
    }


def _resting_hr(this: Sequence[Day]) -> dict[str, Any]:
    pairs = [
        (value, _value(d, "restingHrBaseline")) for d in this if (value := _value(d, "restingHr")) is not None
    ]
    values = [value for value, _ in pairs]
    baselines = [base for _, base in pairs if base is not None]
    mean, baseline = _mean(values), _mean(baselines)
    return {
        "days": len(values),
        "mean": mean,
        "baselineMean": baseline,
        "delta": None if mean is None or baseline is None else round(mean - baseline, 1),
    }


def _sleep(this: Sequence[Day]) -> dict[str, Any]:
    nights = [(d, minutes) for d in this if (minutes := _value(d, "sleepMin")) is not None]
    debts = [(d, hours) for d in this if (hours := _value(d, "debtHours")) is not None]
    start = round(debts[0][1], 2) if debts else None
    end = round(debts[-1][1], 2) if debts else None
    trend: str | None = None
    if start is not None and end is not None and len(debts) >= 2:
        change = end - start
        trend = (
            "rising" if change >= DEBT_TREND_HOURS else "falling" if change <= -DEBT_TREND_HOURS else "steady"
        )
    return {
        "nights": len(nights),
        "meanMin": _mean([minutes for _, minutes in nights]),
        "debtStartHours": start,
        "debtEndHours": end,
        "debtCategory": None if end is None else category_for(end),
        "debtTrend": trend,
        "daily": [
            {
                "date": d.date.isoformat(),
                "sleepMin": d.baselines.get("sleepMin"),
                "debtHours": d.baselines.get("debtHours"),
            }
            for d in this
        ],
    }


def _week_load(loads: Mapping[date, float], monday: date, since: date | None) -> float | None:
    """The week's total load; None for a week wholly before anything was logged (unknown, not 0)."""
    if since is None or monday + timedelta(days=6) < since:
        return None
    return round(sum(loads.get(day, 0.0) for day in week_days(monday) if day >= since), 1)


def _load(inputs: WeekInputs) -> dict[str, Any]:
    week = _week_load(inputs.loads, inputs.week, inputs.load_since)
    previous = [_week_load(inputs.loads, monday, inputs.load_since) for monday in previous_weeks(inputs.week)]
    known = [value for value in previous if value is not None]
    mean = _mean(known)
    return {
        "week": week,
        "previousWeeks": previous,
        "previousMean": mean,
        "ratio": None if week is None or not mean else round(week / mean, 2),
    }


def summarise(inputs: WeekInputs) -> dict[str, Any]:
    """The week's figures, as stored and served (camelCase keys, JSON values)."""
    days = week_days(inputs.week)
    before = set(week_days(inputs.week - timedelta(weeks=1)))
    this = sorted((d for d in inputs.days if days[0] <= d.date <= days[-1]), key=lambda d: d.date)
    last = sorted((d for d in inputs.days if d.date in before), key=lambda d: d.date)
    return {
        "week": iso_week(inputs.week),
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "daysWithData": len(this),
        "readiness": _readiness(this, last),
        "hrv": _hrv(this),
        "restingHr": _resting_hr(this),
        "sleep": _sleep(this),
        "load": _load(inputs),
        "adherence": inputs.adherence.out(),
    }


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------


def _readiness_down(f: Mapping[str, Any]) -> Sentence | None:
    r = f["readiness"]
    if r["change"] is None or r["change"] > -READINESS_DROP:
        return None
    return Sentence(
        "readiness_down",
        f"Your readiness averaged {r['mean']:g}, down {-r['change']:g} points from {r['previousMean']:g} "
        "the week before: plan an easy day early this week and see how you respond.",
        ("readiness",),
        {"mean": r["mean"], "previousMean": r["previousMean"], "change": r["change"]},
    )


def _hrv_below(f: Mapping[str, Any]) -> Sentence | None:
    h = f["hrv"]
    if h["belowRange"] < HRV_BELOW_DAYS:
        return None
    return Sentence(
        "hrv_below_range",
        f"Your 7-day HRV was below your normal range on {h['belowRange']} of {h['days']} days: "
        "keep hard sessions for when it is back in range.",
        ("hrv",),
        {"belowRange": h["belowRange"], "days": h["days"]},
    )


def _sleep_debt(f: Mapping[str, Any]) -> Sentence | None:
    s = f["sleep"]
    if s["debtTrend"] != "rising" or s["debtCategory"] not in ("moderate", "high"):
        return None
    return Sentence(
        "sleep_debt_rising",
        f"Your sleep debt rose from {s['debtStartHours']:g} h to {s['debtEndHours']:g} h "
        f"({s['debtCategory']}): go to bed earlier on a few nights this week to pay it back.",
        ("sleep",),
        {
            "debtStartHours": s["debtStartHours"],
            "debtEndHours": s["debtEndHours"],
            "category": s["debtCategory"],
        },
    )


def _load_spike(f: Mapping[str, Any]) -> Sentence | None:
    g = f["load"]
    if g["ratio"] is None or g["ratio"] <= LOAD_SPIKE_RATIO:
        return None
    return Sentence(
        "load_spike",
        f"Your training load of {g['week']:g} was {g['ratio']:g} times your average of "
        f"{g['previousMean']:g} over the previous four weeks: build up more gradually this week.",
        ("training",),
        {"week": g["week"], "previousMean": g["previousMean"], "ratio": g["ratio"]},
    )


def _resting_hr_up(f: Mapping[str, Any]) -> Sentence | None:
    h = f["restingHr"]
    if h["delta"] is None or h["delta"] < RHR_RISE_BPM:
        return None
    return Sentence(
        "resting_hr_up",
        f"Your resting heart rate averaged {h['mean']:g} bpm, {h['delta']:g} above your baseline of "
        f"{h['baselineMean']:g}: watch for illness or fatigue before adding intensity.",
        ("hrv",),
        {"mean": h["mean"], "baselineMean": h["baselineMean"], "delta": h["delta"]},
    )


def _adherence_low(f: Mapping[str, Any]) -> Sentence | None:
    a = f["adherence"]
    if a["rate"] is None or a["rate"] >= ADHERENCE_LOW_RATE:
        return None
    return Sentence(
        "adherence_low",
        f"You kept {a['kept']} of {a['planned']} planned sessions ({round(a['rate'] * 100)} %): "
        "tell your coach what got in the way so the plan can fit your week.",
        ("training",),
        {"kept": a["kept"], "planned": a["planned"], "rate": a["rate"]},
    )


def _steady(f: Mapping[str, Any]) -> Sentence | None:
    r = f["readiness"]
    if r["mean"] is None:
        return None
    good = r["bandDays"]["normal"] + r["bandDays"]["elevated"]
    return Sentence(
        "steady",
        f"Your readiness averaged {r['mean']:g} with {good} of {r['scoredDays']} scored days normal "
        "or better: carry on with the plan as it is.",
        ("readiness",),
        {"mean": r["mean"], "goodDays": good, "scoredDays": r["scoredDays"]},
    )


def _missing(f: Mapping[str, Any]) -> Sentence | None:
    r = f["readiness"]
    if r["mean"] is not None:
        return None
    return Sentence(
        "too_little_data",
        f"Readiness was scored on {r['scoredDays']} of 7 days, fewer than {MIN_SCORED_DAYS}: wear your "
        "device overnight so that next week's summary has figures to go on.",
        ("readiness",),
        {"scoredDays": r["scoredDays"]},
    )


# In the order they are tried; the first ``MAX_SENTENCES`` that fire are kept. ``steady`` and
# ``too_little_data`` only speak when nothing else did.
RULES: tuple[tuple[str, Callable[[Mapping[str, Any]], Sentence | None]], ...] = (
    ("readiness_down", _readiness_down),
    ("hrv_below_range", _hrv_below),
    ("sleep_debt_rising", _sleep_debt),
    ("load_spike", _load_spike),
    ("resting_hr_up", _resting_hr_up),
    ("adherence_low", _adherence_low),
)
_FALLBACKS = (_steady, _missing)


def choose_sentences(figures: Mapping[str, Any]) -> list[Sentence]:
    """One to three sentences from the week's figures, by the rules of :data:`RULES`."""
    chosen = [s for _, rule in RULES if (s := rule(figures)) is not None][:MAX_SENTENCES]
    if not chosen:
        chosen = [s for rule in _FALLBACKS if (s := rule(figures)) is not None][:1]
    return chosen


def inputs_digest(inputs: WeekInputs) -> str:
    """A hash of what the week is computed from (and of the rules' version): equal digests, equal
    summaries, so a refresh writes only when it changed."""
    document = {
        "v": RULES_VERSION,
        "week": inputs.week.isoformat(),
        "days": [
            [d.date.isoformat(), d.score, d.band, list(d.flags), dict(sorted(d.baselines.items()))]
            for d in sorted(inputs.days, key=lambda d: d.date)
        ],
        "loads": sorted((day.isoformat(), load) for day, load in inputs.loads.items()),
        "since": None if inputs.load_since is None else inputs.load_since.isoformat(),
        "adherence": [inputs.adherence.planned, inputs.adherence.kept],
    }
    return hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()
