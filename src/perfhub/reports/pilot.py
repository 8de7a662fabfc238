"""The pilot's success metrics from plain rows: the period's figures and its targets, each met
or not. Pure, no I/O (docs/pilot.md); the days themselves are :mod:`perfhub.reports.timing`'s.

Coverage counts athlete-days of the days over in every zone. Lag percentiles are nearest-rank:
p95 is the smallest lag that at least 95 % of the nights stored are at or under. Adherence is
the plans domain's (docs/plans.md#adherence), for the period and for a baseline period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from perfhub.plans.adherence import Figures, Tally
from perfhub.reports.timing import TIMED_BY, DayFigures, Inputs, NightLag, Timing, ratio, share, timing

COVERAGE_GOAL = 0.85
LAG_SHARE_GOAL = 0.95  # of the nights, within timing.LAG_LIMIT
ADHERENCE_GAIN_GOAL = 0.10  # relative: the pilot's rate at least 1.1 × the baseline's
PERCENTILES = (50, 95, 99)
# A link and the end of the attempt that made it are written by one request, microseconds apart.
LINK_MATCH = timedelta(seconds=60)


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, -(-percent * len(ordered) // 100)) - 1]


@dataclass(frozen=True)
class LinkAttempt:
    """An OAuth link attempt still kept, and when its athlete's connection to the vendor was
    last linked (None: never)."""

    used_at: datetime | None
    expires_at: datetime
    linked_at: datetime | None


@dataclass(frozen=True)
class DeadLetterFact:
    consumer: str
    reason: str
    replayed: bool


# --------------------------------------------------------------------------------------------
# The period's figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Athlete-days over the complete days of the period (a day still going somewhere is shown
    but not counted)."""

    active: int
    covered: int
    before: int
    lowest: DayFigures | None
    covered_by: dict[str, int]

    @classmethod
    def of(cls, timed: Timing) -> Coverage:
        complete = [day for day in timed.days if day.complete]
        judged = [day for day in complete if day.active]
        lowest = min(judged, key=lambda d: (d.covered / d.active, d.day), default=None)
        covered_by = {source: sum(timed.covered_by[d.day][source] for d in complete) for source in TIMED_BY}
        return cls(
            sum(d.active for d in complete),
            sum(d.covered for d in complete),
            sum(d.before for d in complete),
            lowest,
            covered_by,
        )

    def out(self) -> dict[str, Any]:
        return {
            "activeDays": self.active,
            "coveredDays": self.covered,
            "coverage": share(self.covered, self.active),
            "before7Days": self.before,
            "before7Share": share(self.before, self.active),
            "lowestDay": None if self.lowest is None else self.lowest.out(),
            "timedBy": dict(self.covered_by),
        }


@dataclass(frozen=True)
class Lag:
    nights: int
    stored: int
    decided: int
    within: int
    percentiles: dict[int, float | None]
    timed_by: dict[str, int]
    untimed: int = 0  # HRV nights from vendors that give a date only, left out

    @classmethod
    def of(cls, nights: Sequence[NightLag], now: datetime, *, untimed: int = 0) -> Lag:
        seconds = [s for s in (night.seconds for night in nights) if s is not None]
        timed_by = dict.fromkeys(TIMED_BY, 0)
        for night in nights:
            if night.source is not None:
                timed_by[night.source] += 1
        return cls(
            len(nights),
            len(seconds),
            sum(night.decided(now) for night in nights),
            sum(night.within() for night in nights),
            {p: nearest_rank(seconds, p) for p in PERCENTILES},
            timed_by,
            untimed,
        )

    @property
    def within_ratio(self) -> float | None:
        return ratio(self.within, self.decided)

    def out(self) -> dict[str, Any]:
        return {
            "nights": self.nights,
            "stored": self.stored,
            "awaiting": self.nights - self.stored,
            **{f"p{p}Seconds": None if v is None else round(v, 1) for p, v in self.percentiles.items()},
            "withinHour": self.within,
            "withinHourShare": share(self.within, self.decided),
            "timedBy": dict(self.timed_by),
            "untimedNights": self.untimed,
        }


def _rate(tally: Tally) -> float | None:
    return None if tally.planned == 0 else tally.kept / tally.planned


def relative_gain(rate: float | None, baseline: float | None) -> float | None:
    """How much better ``rate`` is than ``baseline``, as a share of it (None: nothing to compare)."""
    if rate is None or baseline is None or baseline == 0:
        return None
    return round(rate / baseline - 1, 4)


@dataclass(frozen=True)
class Adherence:
    period: Figures
    baseline: Figures | None
    baseline_range: tuple[date, date] | None

    @property
    def gain(self) -> float | None:
        if self.baseline is None:
            return None
        return relative_gain(_rate(self.period.total.overall), _rate(self.baseline.total.overall))

    def group_gain(self, group: str, against: str) -> float | None:
        groups = self.period.total.by_group
        return relative_gain(_rate(groups[group]), _rate(groups[against]))

    def out(self) -> dict[str, Any]:
        baseline = None
        if self.baseline is not None and self.baseline_range is not None:
            start, end = self.baseline_range
            baseline = {"from": start.isoformat(), "to": end.isoformat(), **self.baseline.total.out()}
        return {
            "period": self.period.total.out(),
            "baseline": baseline,
            "gainOverBaseline": self.gain,
            "acceptedOverReverted": self.group_gain("accepted", "reverted"),
            "acceptedOverUnadjusted": self.group_gain("accepted", "unadjusted"),
        }


@dataclass(frozen=True)
class OAuth:
    completed: int
    failed: int
    # Attempts are forgotten a day after they expire: failures before this are undercounted.
    failures_kept_since: datetime

    def out(self) -> dict[str, Any]:
        return {
            "completed": self.completed,
            "failed": self.failed,
            "failuresKeptSince": self.failures_kept_since.isoformat().replace("+00:00", "Z"),
        }


def oauth_links(
    linked: Iterable[datetime],
    attempts: Iterable[LinkAttempt],
    start: datetime,
    end: datetime,
    now: datetime,
    kept_since: datetime,
) -> OAuth:
    """Links completed (connections whose latest link falls in ``start``..``end``) and failed
    (attempts that ended in it without linking: refused, or expired unfinished)."""
    completed = sum(start <= at < end for at in linked)
    failed = 0
    for attempt in attempts:
        if attempt.used_at is not None:
            made = attempt.linked_at is not None and abs(attempt.used_at - attempt.linked_at) <= LINK_MATCH
            ended = None if made else attempt.used_at
        else:
            ended = attempt.expires_at if attempt.expires_at <= now else None
        failed += ended is not None and start <= ended < end
    return OAuth(completed, failed, kept_since)


def reason_class(reason: str) -> str:
    """What kind of failure a dead letter's reason names: its text before the first colon (an
    exception's name, or e.g. "refused part of hrv"), never the details after it."""
    head = reason.split(":", 1)[0].strip()
    return head[:80] or "unknown"


@dataclass(frozen=True)
class DeadLetterGroup:
    consumer: str
    reason: str
    count: int
    replayed: int

    def out(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "reason": self.reason,
            "count": self.count,
            "replayed": self.replayed,
        }


def dead_letter_groups(facts: Iterable[DeadLetterFact]) -> list[DeadLetterGroup]:
    tallies: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for fact in facts:
        tally = tallies[(fact.consumer, reason_class(fact.reason))]
        tally[0] += 1
        tally[1] += fact.replayed
    groups = [DeadLetterGroup(c, r, n, replayed) for (c, r), (n, replayed) in tallies.items()]
    return sorted(groups, key=lambda g: (-g.count, g.consumer, g.reason))


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    code: str
    label: str
    goal: str
    value: float | None  # exact: judged and shown unrounded, given to 4 decimals
    met: bool | None  # None: not judged (nothing to judge it on)
    note: str = ""

    def out(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "target": self.label,
            "goal": self.goal,
            "value": None if self.value is None else round(self.value, 4),
            "met": self.met,
            "note": self.note,
        }


def _at_least(value: float | None, goal: float) -> bool | None:
    return None if value is None else value >= goal


def targets(coverage: Coverage, lag: Lag, adherence: Adherence) -> list[Target]:
    covered = ratio(coverage.covered, coverage.active)
    before = ratio(coverage.before, coverage.active)
    gain = adherence.gain
    if adherence.baseline is None:
        note = "no baseline period given"
    elif gain is None:
        note = "nothing planned, or nothing kept, in one of the periods"
    else:
        note = ""
    return [
        Target("coverage", "daily readiness coverage", "≥ 85 %", covered, _at_least(covered, COVERAGE_GOAL)),
        Target(
            "before7",
            "readiness available before 07:00 local",
            "≥ 85 % of active athlete-days",
            before,
            _at_least(before, COVERAGE_GOAL),
        ),
        Target(
            "lag",
            "overnight HRV ingested within 1 hour of availability",
            "≥ 95 % of nights",
            lag.within_ratio,
            _at_least(lag.within_ratio, LAG_SHARE_GOAL),
        ),
        Target(
            "adherence",
            "plan adherence better than baseline",
            "≥ 10 % better (relative)",
            gain,
            _at_least(gain, ADHERENCE_GAIN_GOAL),
            note,
        ),
    ]


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotReport:
    start: date
    end: date
    team: Mapping[str, Any] | None  # {id, name}
    generated_at: datetime
    athletes: int
    days: list[DayFigures]
    coverage: Coverage
    lag: Lag
    adherence: Adherence
    oauth: OAuth
    dead_letters: list[DeadLetterGroup]
    targets: list[Target]

    def out(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "team": None if self.team is None else dict(self.team),
            "generatedAt": self.generated_at.isoformat().replace("+00:00", "Z"),
            "athletes": self.athletes,
            "targets": [target.out() for target in self.targets],
            "coverage": {**self.coverage.out(), "days": [day.out() for day in self.days]},
            "lag": self.lag.out(),
            "adherence": self.adherence.out(),
            "oauth": self.oauth.out(),
            "deadLetters": {
                "total": sum(group.count for group in self.dead_letters),
                "byReason": [group.out() for group in self.dead_letters],
            },
        }


def pilot_report(
    inputs: Inputs,
    *,
    start: date,
    end: date,
    team: Mapping[str, Any] | None,
    adherence: Adherence,
    oauth: OAuth,
    dead_letters: Iterable[DeadLetterFact],
    now: datetime,
) -> PilotReport:
    timed = timing(inputs, now)
    coverage, lag = Coverage.of(timed), Lag.of(timed.nights, now, untimed=timed.untimed_nights)
    return PilotReport(
        start=start,
        end=end,
        team=team,
        generated_at=now,
        athletes=len(inputs.athletes),
        days=timed.days,
        coverage=coverage,
        lag=lag,
        adherence=adherence,
        oauth=oauth,
        dead_letters=dead_letter_groups(dead_letters),
        targets=targets(coverage, lag, adherence),
    )
