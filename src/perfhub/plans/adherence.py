"""Adherence: how many planned sessions were done as finally decided. Pure, no I/O (docs/plans.md).

A session counts once its day is over in the athlete's own calendar (dated before their local
today) and it lies in the range asked for. It is **kept** when what was done matches the session
as finally decided (:func:`perfhub.plans.service.final_plan`: the adjusted fields once accepted,
else the plan as written):

- a **rest** session is kept when nothing at all was logged that day (planned or not);
- any other session is kept when a completion is linked to it, its minutes are within ±20 % of
  the final duration (both edges included), and its RPE is no higher than the final type allows:
  easy ≤ 4, moderate ≤ 6, hard any. A session done on the day but logged without the link does
  not count: adherence is about the planned session, not about training in general.

Every counted session is in one group, by its adjustment: ``accepted``, ``reverted``,
``undecided`` (proposed, never decided) or ``unadjusted`` (none was proposed). The groups make
the pilot's question measurable — do athletes keep the sessions whose adjustment they accepted
more often than the others? — overall, per ISO week and per athlete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

__all__ = [
    "DURATION_TOLERANCE",
    "GROUPS",
    "RPE_CEILING",
    "Completion",
    "Figures",
    "SessionFacts",
    "Tally",
    "figures",
    "group_of",
    "is_kept",
    "iso_week",
]

GROUPS: tuple[str, ...] = ("accepted", "reverted", "undecided", "unadjusted")

# The highest session RPE (CR-10) a completion may have and still be the type planned: an easy
# run done at 6 was a moderate one. Hard has no ceiling; rest is judged by nothing being logged.
RPE_CEILING: Mapping[str, float] = {"easy": 4.0, "moderate": 6.0, "hard": 10.0}
# The share of the final duration a completion may be off by, either way, and still be kept: a
# fraction, so that the edges are exact (48 and 72 minutes of a 60-minute session are inside).
DURATION_TOLERANCE = Fraction(1, 5)


@dataclass(frozen=True)
class Completion:
    """What was done of a planned session: minutes and session RPE."""

    duration_min: float
    rpe: float


@dataclass(frozen=True)
class SessionFacts:
    """One planned session as adherence sees it: the session as finally decided (made by
    :func:`perfhub.plans.adherence_routes.facts_of` from the stored rows), where its adjustment
    stands (None: none was proposed) and the completion linked to it."""

    athlete_id: int
    date: date
    final_type: str
    final_duration_min: float
    status: str | None
    completion: Completion | None


def group_of(status: str | None) -> str:
    """The group of a session whose adjustment is ``status`` (None: no adjustment)."""
    if status is None:
        return "unadjusted"
    if status == "proposed":
        return "undecided"
    if status in ("accepted", "reverted"):
        return status
    raise ValueError(f"unknown adjustment status {status!r}")


def within_duration(done: float, final: float) -> bool:
    """|done − final| ≤ 20 % of final, in exact decimal arithmetic: minutes are read as the
    decimals they were given as (``str`` of a float is its shortest form, 8.4 for 8.4), so 8.4
    of 7 minutes is inside where binary floats would put it a hair outside."""
    given, planned = Fraction(str(done)), Fraction(str(final))
    return abs(given - planned) <= DURATION_TOLERANCE * planned


def is_kept(session: SessionFacts, logged_that_day: bool) -> bool:
    """Whether ``session`` was done as finally decided; ``logged_that_day``: any completed
    session of the athlete's is dated that day (the rest rule)."""
    if session.final_type == "rest":
        return not logged_that_day
    done = session.completion
    if done is None:
        return False
    return within_duration(done.duration_min, session.final_duration_min) and done.rpe <= RPE_CEILING.get(
        session.final_type, 10.0
    )


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Tally:
    planned: int = 0
    kept: int = 0

    @property
    def rate(self) -> float | None:
        """Kept over planned (None with nothing planned: no rate, rather than 0 %)."""
        return None if self.planned == 0 else round(self.kept / self.planned, 4)

    def add(self, kept: bool) -> None:
        self.planned += 1
        self.kept += int(kept)

    def out(self) -> dict[str, Any]:
        return {"planned": self.planned, "kept": self.kept, "rate": self.rate}


def _groups() -> dict[str, Tally]:
    return {group: Tally() for group in GROUPS}


@dataclass
class Split:
    """A tally overall and per group."""

    overall: Tally = field(default_factory=Tally)
    by_group: dict[str, Tally] = field(default_factory=_groups)

    def add(self, group: str, kept: bool) -> None:
        self.overall.add(kept)
        self.by_group[group].add(kept)

    def out(self) -> dict[str, Any]:
        return {
            "overall": self.overall.out(),
            "byGroup": {group: tally.out() for group, tally in self.by_group.items()},
        }


@dataclass
class Figures:
    """Adherence over some sessions: overall, per group, and per ISO week (each split by group)."""

    total: Split = field(default_factory=Split)
    weeks: dict[str, Split] = field(default_factory=dict)

    def add(self, day: date, group: str, kept: bool) -> None:
        self.total.add(group, kept)
        week = iso_week(day)
        split = self.weeks.get(week)
        if split is None:
            split = self.weeks[week] = Split()
        split.add(group, kept)

    def out(self) -> dict[str, Any]:
        """The API's shape: ``{overall, byGroup, byWeek: [{week, overall, byGroup}]}``, weeks in order."""
        return {
            **self.total.out(),
            "byWeek": [{"week": week, **self.weeks[week].out()} for week in sorted(self.weeks)],
        }


def figures(
    sessions: Iterable[SessionFacts],
    logged: Iterable[tuple[int, date]],
    todays: Mapping[int, date],
    start: date,
    end: date,
) -> tuple[Figures, dict[int, Figures]]:
    """Adherence of ``sessions`` from ``start`` to ``end`` (inclusive), in all and per athlete.

    ``logged`` holds (athlete, day) for every day with any completed session; ``todays`` each
    athlete's local today: only sessions dated before it are counted (a session of today may
    still be done). Athletes without a ``todays`` entry are not counted at all. The per-athlete
    answer has an entry for each athlete in ``todays``, even with nothing planned.
    """
    busy = set(logged)
    total = Figures()
    per_athlete = {athlete: Figures() for athlete in todays}
    for session in sorted(sessions, key=lambda s: (s.date, s.athlete_id)):
        today = todays.get(session.athlete_id)
        if today is None or not start <= session.date <= end or session.date >= today:
            continue
        kept = is_kept(session, (session.athlete_id, session.date) in busy)
        group = group_of(session.status)
        total.add(session.date, group, kept)
        per_athlete[session.athlete_id].add(session.date, group, kept)
    return total, per_athlete
