"""A week's figures: pure arithmetic, no I/O (docs/weekly.md#figures).

A week is an ISO week, Monday to Sunday, in the athlete's own calendar: the days are the dates of
the stored readiness snapshots, which are already the athlete's local days. A day without a
snapshot (or without the value asked for) is missing: it is left out of every mean and count,
never read as zero. Training load is the exception, as in :mod:`perfhub.training.load`: from the
first day anything was logged, a day with nothing logged is a rest day.

The sentences chosen from the figures are :mod:`perfhub.insights.sentences`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from perfhub.plans.adherence import Tally
from perfhub.readiness.engine.rules import BAND_NAMES
from perfhub.readiness.engine.sleep_debt import category_for

__all__ = [
    "DEBT_TREND_HOURS",
    "FIGURE_SIGNALS",
    "MIN_SCORED_DAYS",
    "RULES_VERSION",
    "Day",
    "WeekInputs",
    "inputs_digest",
    "iso_week",
    "parse_week",
    "previous_weeks",
    "summarise",
    "week_days",
]

# Bumped whenever a rule or a figure changes meaning: stored summaries are then recomputed.
RULES_VERSION = "1"

MIN_SCORED_DAYS = 3  # a weekly readiness mean needs at least this many scored days
DEBT_TREND_HOURS = 0.25  # sleep debt moving less than this over the week is steady
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
