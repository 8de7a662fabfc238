"""Training load from completed sessions: pure arithmetic over one athlete's daily loads.

A session's load is its RPE times its minutes (session RPE, Foster 2001); a day's load is the
sum of its sessions. From the first day anything was logged, a day with nothing logged is a
rest day (0): no session means no training, not missing data. Averages run over the window or
over the days since the first logged one, whichever is shorter:

- ATL, acute load: mean daily load of the last 7 days (the day included);
- CTL, chronic load: mean daily load of the last 42 days;
- TSB, training-stress balance: CTL − ATL (positive: fresher than usual);
- ACWR, acute:chronic workload ratio: 7-day mean over 28-day mean (Gabbett 2016) — 0.8–1.3 is
  the usual range, 1.5 and over a spike;
- monotony: mean over standard deviation of the last 7 daily loads (Foster 1998), undefined when
  every day of the week had the same load;
- strain: the week's total load times its monotony.

ACWR and TSB mean little on a short history: they are given from the 21st day after the first
logged one (as the readiness contributor uses them) and are None before.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "ACUTE_DAYS",
    "CHRONIC_DAYS",
    "CTL_DAYS",
    "LOAD_MIN_HISTORY_DAYS",
    "LoadDay",
    "load_series",
    "session_load",
]

ACUTE_DAYS = 7
CHRONIC_DAYS = 28
CTL_DAYS = 42
LOAD_MIN_HISTORY_DAYS = 21


def session_load(rpe: float, duration_min: float) -> float:
    """Foster's session load: RPE (0–10) × minutes."""
    return round(rpe * duration_min, 1)


@dataclass(frozen=True)
class LoadDay:
    """One day's load and the figures derived from it (None where not defined yet)."""

    date: date
    load: float
    atl: float | None
    ctl: float | None
    tsb: float | None
    acwr: float | None
    monotony: float | None
    strain: float | None


def load_series(daily: Mapping[date, float], start: date, end: date) -> list[LoadDay]:
    """Every day from ``start`` to ``end`` with its load figures; ``daily`` holds the days with
    sessions (any date: earlier days feed the averages). Days before the first logged one have
    no figures."""
    if end < start:
        return []
    first = min(daily, default=None)
    if first is None:
        return [LoadDay(start + timedelta(d), 0.0, *([None] * 6)) for d in range((end - start).days + 1)]
    origin = min(first, start)
    loads = [daily.get(origin + timedelta(d), 0.0) for d in range((end - origin).days + 1)]
    days: list[LoadDay] = []
    for index in range((start - origin).days, len(loads)):
        day = origin + timedelta(index)
        history = (day - first).days + 1
        if history <= 0:
            days.append(LoadDay(day, 0.0, None, None, None, None, None, None))
            continue

        def mean(window: int, index: int = index, history: int = history) -> float:
            span = min(window, history)
            return sum(loads[index - span + 1 : index + 1]) / span

        atl, ctl, chronic = mean(ACUTE_DAYS), mean(CTL_DAYS), mean(CHRONIC_DAYS)
        settled = history >= LOAD_MIN_HISTORY_DAYS
        week = loads[max(0, index - ACUTE_DAYS + 1) : index + 1]
        monotony = strain = None
        if len(week) == ACUTE_DAYS and history >= ACUTE_DAYS:
            spread = statistics.pstdev(week)
            if spread > 0:
                monotony = statistics.fmean(week) / spread
                strain = sum(week) * monotony
        days.append(
            LoadDay(
                day,
                loads[index],
                round(atl, 2),
                round(ctl, 2),
                round(ctl - atl, 2) if settled else None,
                round(atl / chronic, 3) if settled and chronic > 0 else None,
                None if monotony is None else round(monotony, 3),
                None if strain is None else round(strain, 1),
            )
        )
    return days
