"""The pilot's days: who was active, who was covered and by when, and every night's ingest lag.
Pure, no I/O (docs/pilot.md).

An athlete is **active** on their local day D when a vendor connection was live on it or an HRV
or sleep night is dated within the 7 days ending on D — and, in a team's report, they were in
the team for some of D. They are **covered** when their night of
D has arrived (an HRV or sleep row dated D) and a readiness snapshot of D has a score. Their
readiness was **available** when it was first stored after that night arrived: the outbox says
when (the first ``data.normalized`` naming the day, then the first ``insights.updated`` naming it
from then on); without those events, the snapshot's ``computed_at``, a later bound, stands in.

The **ingest lag** of a night is from the vendor's availability time — the HRV row's
``captured_at``, the instant the vendor gives for the night — to the first readiness stored
after that HRV was normalised. A corrected night (a newer ``capturedAt`` replaces the row) is
measured from the correction's time to the readiness stored after it arrived. A vendor that
gives a date only (Google) has no such instant: its nights are counted apart (``untimed``), not
timed from the start of their date.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

BEFORE = time(7, 0)  # local time readiness should be there by
LAG_LIMIT = timedelta(hours=1)
ACTIVE_DAYS = 7  # a night dated within this many days ending on D makes an athlete active on D
NIGHT_SIGNALS = ("hrv", "sleep")
READINESS = "readiness"
# UTC−12 is the last zone to finish a day: D is over everywhere at D+1 12:00 UTC.
LAST_DAY_END = timedelta(days=1, hours=12)
# Ingest takes a capturedAt up to this far ahead of its own clock.
CLOCK_SKEW = timedelta(minutes=5)
# What timed a readiness: the outbox's events, or (without them) the snapshot's computed_at.
TIMED_BY = ("events", "computedAt")


# --------------------------------------------------------------------------------------------
# The rows the report is computed from
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Athlete:
    id: int
    tz: str
    # For a team's report: when they were in the team (joined, left or None while in it). Only
    # the days they were counts. None: every day (the report over everyone).
    member: tuple[tuple[datetime, datetime | None], ...] | None = None

    def member_on(self, day: date) -> bool:
        """Whether they were in the team for any part of their local ``day``."""
        if self.member is None:
            return True
        begins = local_at(day, time(0), self.tz)
        ends = local_at(day + timedelta(days=1), time(0), self.tz)
        return any(joined < ends and (left is None or left > begins) for joined, left in self.member)


@dataclass(frozen=True)
class LinkSpan:
    """A vendor connection live from ``start`` until ``end`` (None: still live)."""

    athlete_id: int
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class Reading:
    """A canonical HRV or sleep row: its wake date and the vendor's time for it."""

    athlete_id: int
    day: date
    signal: str  # hrv | sleep
    captured_at: datetime
    # False for a vendor that gives a date only: its captured_at is a stand-in (the start of the
    # date), so the night has no lag to measure.
    timed: bool = True


@dataclass(frozen=True)
class Snapshot:
    athlete_id: int
    day: date
    scored: bool
    computed_at: datetime


@dataclass(frozen=True)
class Announcement:
    """An outbox event naming an athlete's day: its ``hrv`` or ``sleep`` normalised, or its
    ``readiness`` stored."""

    athlete_id: int
    day: date
    kind: str
    at: datetime


# --------------------------------------------------------------------------------------------
# Timing: when a night arrived and when readiness was stored after it
# --------------------------------------------------------------------------------------------


class Timeline:
    """The outbox's account of each athlete-day: every time a signal of its night was normalised
    and every time its readiness was stored, in order."""

    def __init__(self, announcements: Iterable[Announcement]) -> None:
        found: dict[tuple[int, date, str], list[datetime]] = defaultdict(list)
        for item in announcements:
            found[(item.athlete_id, item.day, item.kind)].append(item.at)
        self._times = {key: sorted(times) for key, times in found.items()}

    def _first(self, athlete_id: int, day: date, kind: str, since: datetime | None) -> datetime | None:
        times = self._times.get((athlete_id, day, kind), [])
        at = 0 if since is None else bisect_left(times, since)
        return times[at] if at < len(times) else None

    def arrived(
        self, athlete_id: int, day: date, signals: Sequence[str], since: datetime | None = None
    ) -> datetime | None:
        """The first time one of ``signals`` of the night was normalised (from ``since`` on)."""
        times = [self._first(athlete_id, day, signal, since) for signal in signals]
        return min((t for t in times if t is not None), default=None)

    def stored_after(self, athlete_id: int, day: date, moment: datetime) -> datetime | None:
        return self._first(athlete_id, day, READINESS, moment)

    def first_stored(
        self,
        athlete_id: int,
        day: date,
        signals: Sequence[str],
        fallback: datetime | None,
        since: datetime | None = None,
    ) -> tuple[datetime | None, str | None]:
        """When readiness of the day was first stored after its night (``signals``, from
        ``since`` on) arrived, and what says so: ``events``, or ``computedAt`` (``fallback``)
        when the outbox does not."""
        arrived = self.arrived(athlete_id, day, signals, since)
        if arrived is not None:
            stored = self.stored_after(athlete_id, day, arrived)
            if stored is not None:
                return stored, "events"
        return (fallback, "computedAt") if fallback is not None else (None, None)


def local_at(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


def day_complete(day: date, now: datetime) -> bool:
    """Whether ``day`` is over in every zone."""
    return now >= datetime.combine(day, time(0), tzinfo=UTC) + LAST_DAY_END


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def share(part: int, whole: int) -> float | None:
    """:func:`ratio` as the JSON and the CSV give it: to 4 decimals."""
    return None if whole == 0 else round(part / whole, 4)


# --------------------------------------------------------------------------------------------
# Coverage and lag per day
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayFigures:
    day: date
    complete: bool
    active: int
    covered: int
    before: int  # covered with readiness available before 07:00 local
    nights: int  # HRV nights dated this day
    within: int  # of them, readiness stored within LAG_LIMIT of the vendor's time

    def out(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "complete": self.complete,
            "active": self.active,
            "covered": self.covered,
            "coverage": share(self.covered, self.active),
            "before7": self.before,
            "before7Share": share(self.before, self.active),
            "hrvNights": self.nights,
            "withinHour": self.within,
        }


@dataclass(frozen=True)
class NightLag:
    athlete_id: int
    day: date
    available_at: datetime  # the vendor's time for the night's HRV
    stored_at: datetime | None
    source: str | None

    @property
    def seconds(self) -> float | None:
        if self.stored_at is None:
            return None
        return max(0.0, (self.stored_at - self.available_at).total_seconds())

    def within(self) -> bool:
        seconds = self.seconds
        return seconds is not None and seconds <= LAG_LIMIT.total_seconds()

    def decided(self, now: datetime) -> bool:
        """Stored, or not within the limit whatever happens now."""
        return self.stored_at is not None or now - self.available_at > LAG_LIMIT


def active_days(
    athlete: Athlete, night_days: Iterable[date], links: Iterable[LinkSpan], days: Sequence[date]
) -> set[date]:
    active = {night + timedelta(days=back) for night in night_days for back in range(ACTIVE_DAYS)}
    spans = list(links)
    for day in days:
        if day in active or not spans:
            continue
        begins = local_at(day, time(0), athlete.tz)
        ends = local_at(day + timedelta(days=1), time(0), athlete.tz)
        if any(s.start < ends and (s.end is None or s.end >= begins) for s in spans):
            active.add(day)
    return active.intersection(days)


@dataclass
class _Day:
    scored: bool = False
    first_scored: datetime | None = None
    first_computed: datetime | None = None


def _snapshot_days(snapshots: Iterable[Snapshot]) -> dict[tuple[int, date], _Day]:
    """Every algorithm version's snapshots of a day together: any scored one covers it."""
    found: dict[tuple[int, date], _Day] = defaultdict(_Day)
    for snap in snapshots:
        entry = found[(snap.athlete_id, snap.day)]
        entry.first_computed = _earlier(entry.first_computed, snap.computed_at)
        if snap.scored:
            entry.scored = True
            entry.first_scored = _earlier(entry.first_scored, snap.computed_at)
    return found


def _earlier(known: datetime | None, other: datetime) -> datetime:
    return other if known is None or other < known else known


@dataclass(frozen=True)
class Inputs:
    """Everything the report is computed from, read for ``days`` (and the week before them)."""

    days: Sequence[date]
    athletes: Sequence[Athlete]
    links: Sequence[LinkSpan]
    readings: Sequence[Reading]
    snapshots: Sequence[Snapshot]
    announcements: Sequence[Announcement]


@dataclass(frozen=True)
class Timing:
    days: list[DayFigures]
    nights: list[NightLag]
    # How each day's covered athletes' availability was timed: {"events": n, "computedAt": m}.
    covered_by: dict[date, dict[str, int]]
    # HRV nights of the period from vendors that give a date only: no lag is timed for them.
    untimed_nights: int = 0


def timing(inputs: Inputs, now: datetime) -> Timing:
    """Coverage, availability before 07:00 and the lag of every HRV night, day by day."""
    timeline = Timeline(inputs.announcements)
    snaps = _snapshot_days(inputs.snapshots)
    links: dict[int, list[LinkSpan]] = defaultdict(list)
    for link in inputs.links:
        links[link.athlete_id].append(link)
    nights: dict[int, set[date]] = defaultdict(set)
    hrv: dict[tuple[int, date], datetime] = {}
    untimed: set[tuple[int, date]] = set()
    for reading in inputs.readings:
        nights[reading.athlete_id].add(reading.day)
        if reading.signal == "hrv":
            key = (reading.athlete_id, reading.day)
            if reading.timed:
                hrv[key] = min(hrv.get(key, reading.captured_at), reading.captured_at)
            else:
                untimed.add(key)
    counts: dict[date, list[int]] = {day: [0, 0, 0] for day in inputs.days}
    covered_by = {day: dict.fromkeys(TIMED_BY, 0) for day in inputs.days}
    for athlete in inputs.athletes:
        for day in active_days(athlete, nights[athlete.id], links[athlete.id], inputs.days):
            if not athlete.member_on(day):
                continue
            tally = counts[day]
            tally[0] += 1
            snap = snaps.get((athlete.id, day))
            if snap is None or not snap.scored or day not in nights[athlete.id]:
                continue
            tally[1] += 1
            at, source = timeline.first_stored(athlete.id, day, NIGHT_SIGNALS, snap.first_scored)
            covered_by[day][source or "computedAt"] += 1
            if at is not None and at < local_at(day, BEFORE, athlete.tz):
                tally[2] += 1
    wanted = set(inputs.days)
    people = {athlete.id: athlete for athlete in inputs.athletes}
    untimed_nights = sum(
        key not in hrv and key[1] in wanted and key[0] in people and people[key[0]].member_on(key[1])
        for key in untimed
    )
    lags = []
    for (athlete_id, day), captured in sorted(hrv.items()):
        if day not in wanted or athlete_id not in people or not people[athlete_id].member_on(day):
            continue
        snap = snaps.get((athlete_id, day))
        # The row holds the newest version of the night (a newer capturedAt replaces it): its
        # lag runs from that version's time to the readiness stored once it was normalised.
        stored, source = timeline.first_stored(
            athlete_id,
            day,
            ("hrv",),
            None if snap is None else snap.first_computed,
            since=captured - CLOCK_SKEW,
        )
        lags.append(NightLag(athlete_id, day, captured, stored, source))
    per_day: dict[date, list[NightLag]] = defaultdict(list)
    for night in lags:
        per_day[night.day].append(night)
    days = [
        DayFigures(
            day,
            day_complete(day, now),
            active=counts[day][0],
            covered=counts[day][1],
            before=counts[day][2],
            nights=len(per_day[day]),
            within=sum(night.within() for night in per_day[day]),
        )
        for day in inputs.days
    ]
    return Timing(days, lags, covered_by, untimed_nights)
