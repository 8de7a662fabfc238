"""The coach's team table: one row per athlete (or per athlete and day), under each athlete's grants.

A row puts the stored readiness snapshot of the athlete's day (score, band, status, staleness,
flags; the engine's normal HRV range and sleep debt) beside the night's readings (sleep and
ln rMSSD from the day's highest-ranked source, as ``/sleep/summary`` and ``/hrv/daily`` choose
them). Every piece belongs to one signal (:data:`SIGNAL_COLUMNS`); a signal the athlete does not
share with the viewer leaves its columns null and is named in ``hidden``.

The whole team is read set-based: one statement for the snapshots, one for sleep, one for HRV,
whatever the number of athletes. Filters look only at what the viewer may see, so a filter on a
hidden signal never matches (and so reveals nothing); what a request let through — the signals
of the rows shown, and what a band or flag filter looked at to leave a row out — is returned
for the audit (:attr:`TeamTable.disclosed`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import parse_date
from perfhub.core.db import one_of, one_of_param, one_of_value
from perfhub.core.errors import Unprocessable
from perfhub.privacy.policy import TeamAccess, flag_signals, visible_flags
from perfhub.readiness.engine import BAND_NAMES, DEBT_CATEGORIES, FLAG_CODES, STATUS_NAMES, category_for
from perfhub.readiness.queries import SnapshotDay, snapshot_days
from perfhub.readiness.service import recompute
from perfhub.readings.queries import NightHrv, NightSleep, winning_hrv, winning_sleep
from perfhub.settings import DEFAULT_SOURCE_PRIORITY

__all__ = [
    "COLUMNS",
    "NUMERIC_COLUMNS",
    "SIGNAL_COLUMNS",
    "TABLE_SIGNALS",
    "Member",
    "SortKey",
    "TableFilters",
    "TeamTable",
    "parse_filters",
    "parse_sort",
    "range_disclosed",
    "range_rows",
    "read_team_table",
    "team_members",
]

# The signals a row is made of, in canonical order (training has no column).
TABLE_SIGNALS: tuple[str, ...] = ("hrv", "sleep", "readiness")

# Which columns each signal covers: without the signal they are null.
SIGNAL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "readiness": ("readiness", "band", "status", "stale", "flags"),
    "sleep": ("sleepDebtHours", "sleepDebtCategory", "lastSleepMin", "lastSleepEfficiencyPct"),
    "hrv": ("lnRMSSD", "normalLow", "normalHigh", "hrvVsNormal"),
}

# Every column, in the order of the CSV's header.
COLUMNS: tuple[str, ...] = (
    "date",
    "athleteId",
    "name",
    "readiness",
    "band",
    "status",
    "stale",
    "sleepDebtHours",
    "sleepDebtCategory",
    "lastSleepMin",
    "lastSleepEfficiencyPct",
    "lnRMSSD",
    "normalLow",
    "normalHigh",
    "hrvVsNormal",
    "flags",
    "hidden",
)

# The columns that hold only numbers or nulls (the CSV writes them without looking).
NUMERIC_COLUMNS: frozenset[str] = frozenset(
    {
        "athleteId",
        "readiness",
        "sleepDebtHours",
        "lastSleepMin",
        "lastSleepEfficiencyPct",
        "lnRMSSD",
        "normalLow",
        "normalHigh",
    }
)

# A row is built as its values in COLUMNS order (a year of a team is 73,000 rows); the table's
# answer turns them into objects keyed by column (:func:`as_object`).
POSITION: Mapping[str, int] = {column: index for index, column in enumerate(COLUMNS)}
_BAND, _FLAGS = POSITION["band"], POSITION["flags"]

HRV_VS_NORMAL: tuple[str, ...] = ("below", "within", "above")

# Columns whose words sort in their natural order (low before reduced …), not alphabetically.
_ORDINALS: Mapping[str, Sequence[str]] = {
    "band": BAND_NAMES,
    "status": STATUS_NAMES,
    "sleepDebtCategory": DEBT_CATEGORIES,
    "hrvVsNormal": HRV_VS_NORMAL,
}

Row = dict[str, Any]  # a row as the API answers it
Values = list[Any]  # a row's values in COLUMNS order


# --------------------------------------------------------------------------------------------
# The request: filters and sort order
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableFilters:
    """``band`` (any of), ``flag`` (any of) and ``q`` (in the name, case-insensitive); all combine."""

    bands: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    q: str = ""

    @property
    def on_values(self) -> bool:
        """Whether a filter looks at the athletes' data (band or flag), not only their names."""
        return bool(self.bands or self.flags)

    def matches_name(self, name: str) -> bool:
        return self.q.casefold() in name.casefold()

    def matches(self, row: Values) -> bool:
        """Whether a row (already cut to the viewer's grants) passes the band and flag filters.

        A hidden band or flag is null or absent in the row, so it never matches."""
        if self.bands and row[_BAND] not in self.bands:
            return False
        return not self.flags or bool(self.flags.intersection(row[_FLAGS] or ()))

    def consulted(self, granted: Collection[str]) -> frozenset[str]:
        """The signals the band and flag filters read of an athlete granted ``granted``.

        Without ``readiness`` nothing is read: the band and the flags are hidden, and the row
        is left out unseen. With it, a flag filter also reads what the flags asked for disclose
        (``sleep_debt``: sleep) where that is granted."""
        if not self.on_values or "readiness" not in granted:
            return frozenset()
        read = {"readiness"}
        for code in self.flags:
            read |= flag_signals(code)
        return frozenset(read) & frozenset(granted)


def parse_filters(bands: Iterable[str], flags: Iterable[str], q: str | None) -> TableFilters:
    """The filters of a request; 422 for a band or flag that does not exist."""
    chosen_bands, chosen_flags = frozenset(bands), frozenset(flags)
    for name, chosen, known in (("band", chosen_bands, BAND_NAMES), ("flag", chosen_flags, FLAG_CODES)):
        unknown = sorted(chosen - set(known))
        if unknown:
            raise Unprocessable(
                f"unknown {name} {', '.join(unknown)}; choose from {', '.join(known)}",
                [{"loc": ["query", name], "msg": f"unknown {name}"}],
            )
    return TableFilters(chosen_bands, chosen_flags, (q or "").strip())


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


DEFAULT_SORT: tuple[SortKey, ...] = (SortKey("name"),)


def parse_sort(raw: str | None) -> tuple[SortKey, ...]:
    """``sort=column`` (ascending) or ``-column`` (descending); several, comma-separated, sort by
    the first, then the next. 422 for a column the table does not have."""
    if raw is None or not raw.strip():
        return DEFAULT_SORT
    keys = []
    for part in raw.split(","):
        part = part.strip()
        column = part.removeprefix("-")
        if column not in COLUMNS:
            raise Unprocessable(
                f"cannot sort by {column!r}; choose from {', '.join(COLUMNS)} (prefix - for descending)",
                [{"loc": ["query", "sort"], "msg": "unknown column"}],
            )
        keys.append(SortKey(column, part.startswith("-")))
    return tuple(keys)


def _sort_value(column: str, value: Any) -> Any:
    if column in _ORDINALS:
        order = _ORDINALS[column]
        return order.index(value) if value in order else len(order)
    if column == "name":
        return (value.casefold(), value)
    if column in ("flags", "hidden"):
        # More flags (or hidden signals) sort after fewer; equal counts by their codes.
        return (len(value), tuple(value))
    return value


def sort_rows(rows: list[Values], keys: Sequence[SortKey]) -> list[Values]:
    """``rows`` by ``keys``, nulls last in either direction; ties keep the order the rows came
    in, which is the members' (by name, then athlete id: :func:`team_members`).

    Stable sorts from the least significant key to the most: each puts its nulls after the
    rest, keeping the order the earlier sorts gave them."""
    if tuple(keys) == DEFAULT_SORT:
        return rows  # already in the members' order
    ordered_rows = rows
    for key in reversed(keys):
        at = POSITION[key.column]
        present = [row for row in ordered_rows if row[at] is not None]
        missing = [row for row in ordered_rows if row[at] is None]
        present.sort(key=lambda row: _sort_value(key.column, row[at]), reverse=key.descending)
        ordered_rows = present + missing
    return ordered_rows


def as_object(row: Values) -> Row:
    """A row as the API answers it: its values keyed by column."""
    return dict(zip(COLUMNS, row, strict=True))


def parse_day(raw: str | None) -> date | None:
    return parse_date(raw, "date") if raw else None


# --------------------------------------------------------------------------------------------
# The team, its data and the rows
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    # zoneinfo keeps only a few zones strongly; a team spread over more would re-read the tz
    # database for every athlete of every request.
    return ZoneInfo(name)


class Member(NamedTuple):
    """An athlete of the table with what the viewer may read of them, and their local today
    (at the time of the request). Made by :func:`team_members`."""

    id: int
    name: str
    today: date
    priority: tuple[str, ...]
    granted: frozenset[str]
    # The table's signals the viewer may read of this athlete, and those they may not (every
    # row of theirs shares the one list, which nothing changes).
    shown: frozenset[str]
    hidden: list[str]


@lru_cache(maxsize=64)
def _cut(granted: frozenset[str]) -> tuple[frozenset[str], list[str]]:
    # A team has a handful of distinct grants: each is cut to the table's signals once, and its
    # list of hidden signals is shared by every athlete (and row) that has it.
    return granted & frozenset(TABLE_SIGNALS), [s for s in TABLE_SIGNALS if s not in granted]


@lru_cache(maxsize=8)
def _members_statement(dialect: str) -> Select[tuple[int, str, str, str, Any]]:
    users = cast(Table, User.__table__)
    return select(users.c.id, users.c.name, users.c.email, users.c.tz, users.c.source_priority).where(
        one_of_param(users.c.id, "ids", dialect)
    )


def team_members(session: Session, access: TeamAccess) -> list[Member]:
    """The team's athletes the viewer may know of (the policy's answer), in one statement, by
    name (any case), then id: the order of the table's ties."""
    if not access.grants:
        return []
    dialect = session.get_bind().dialect.name
    rows = session.execute(_members_statement(dialect), {"ids": one_of_value(access.grants, dialect)})
    now = datetime.now(UTC)
    todays: dict[str, date] = {}
    grants = access.grants
    new = tuple.__new__  # straight from C: a named tuple's own constructor is Python
    members = []
    for user_id, name, email, tz, priority in rows:
        today = todays.get(tz)
        if today is None:
            today = todays[tz] = now.astimezone(_zone(tz)).date()
        granted = grants.get(user_id, frozenset())
        shown, hidden = _cut(granted)
        priorities = tuple(priority) if priority else DEFAULT_SOURCE_PRIORITY
        members.append(new(Member, (user_id, name or email, today, priorities, granted, shown, hidden)))
    members.sort(key=lambda m: (m.name.casefold(), m.name, m.id))
    return members


@dataclass(frozen=True)
class TeamData:
    """Everything the rows of some athlete-days are made of, read in three statements."""

    snapshots: Mapping[tuple[int, date], SnapshotDay]
    hrv: Mapping[tuple[int, date], NightHrv]
    sleep: Mapping[tuple[int, date], NightSleep]


def read_team_data(session: Session, members: Sequence[Member], start: date, end: date) -> TeamData:
    """The snapshots, HRV and sleep of ``members`` from ``start`` to ``end``, one statement each.

    A signal is read only for the athletes who share it: what the viewer may not see is not
    even fetched."""
    snapshot_ids = [m.id for m in members if m.shown]
    hrv_of = {m.id: m.priority for m in members if "hrv" in m.granted}
    sleep_of = {m.id: m.priority for m in members if "sleep" in m.granted}
    return TeamData(
        snapshot_days(session, snapshot_ids, start, end) if snapshot_ids else {},
        winning_hrv(session, hrv_of, start, end) if hrv_of else {},
        winning_sleep(session, sleep_of, start, end) if sleep_of else {},
    )


def hrv_vs_normal(ln7: float | None, low: float | None, high: float | None) -> str | None:
    """Where the 7-day HRV lies against the normal range — the comparison readiness makes
    (docs/readiness.md#normal-range), so ``below`` goes with the ``hrv_below_range`` flag."""
    if ln7 is None or low is None or high is None:
        return None
    return "below" if ln7 < low else "above" if ln7 > high else "within"


@lru_cache(maxsize=4096)
def _shown_flags(granted: frozenset[str], codes: tuple[str, ...]) -> list[str]:
    # A team has few distinct combinations of grants and flags: each is cut once. The list is
    # shared by the rows that have it, which only read it.
    return visible_flags(granted, codes)[0]


def build_row(member: Member, day: date, iso_day: str, data: TeamData) -> Values:
    """One athlete-day as the viewer may see it, its values in :data:`COLUMNS` order: the
    columns of an ungranted signal are null. The day is in ISO form, as JSON and CSV show it."""
    key = (member.id, day)
    granted = member.granted
    snap = data.snapshots.get(key)
    readiness = band = status = stale = flags = None
    debt_hours = debt_category = sleep_min = efficiency = None
    ln_rmssd = low = high = position = None
    if snap is not None:
        # A year of a team is 73,000 rows: the snapshot's fields are unpacked once.
        score, band_, status_, stale_, codes, ln7, normal_low, normal_high, debt = snap
        if "readiness" in granted:
            readiness = None if score is None else int(score)
            band, status, stale = band_, status_, stale_
            flags = _shown_flags(granted, codes)
        if debt is not None and "sleep" in granted:
            debt_hours, debt_category = round(debt, 2), category_for(debt)
        if normal_low is not None and normal_high is not None and "hrv" in granted:
            low, high = round(normal_low, 4), round(normal_high, 4)
            position = hrv_vs_normal(ln7, normal_low, normal_high)
    if "sleep" in granted:
        sleep = data.sleep.get(key)
        if sleep is not None:
            sleep_min, efficiency = sleep
    if "hrv" in granted:
        hrv = data.hrv.get(key)
        if hrv is not None and hrv[0] is not None:
            ln_rmssd = round(hrv[0], 4)
    return [
        iso_day,
        member.id,
        member.name,
        readiness,
        band,
        status,
        stale,
        debt_hours,
        debt_category,
        sleep_min,
        efficiency,
        ln_rmssd,
        low,
        high,
        position,
        flags,
        member.hidden,
    ]


def _without_today(
    members: Sequence[Member], days: Mapping[int, date], snapshots: Mapping[tuple[int, date], SnapshotDay]
) -> list[Member]:
    """The athletes whose row is their local today and has no snapshot yet (nothing has arrived
    since midnight to make one)."""
    return [
        m for m in members if m.shown and days.get(m.id) == m.today and (m.id, days[m.id]) not in snapshots
    ]


def materialise(
    session: Session, missing: Sequence[Member], days: Mapping[int, date]
) -> dict[tuple[int, date], SnapshotDay]:
    """Compute today's snapshot of ``missing`` as ``GET /readiness/today`` would (one batch
    recompute for all of them) and read what it stored."""
    if not missing:
        return {}
    dialect = session.get_bind().dialect.name
    users = list(session.scalars(select(User).where(one_of(User.id, [m.id for m in missing], dialect))))
    recompute(session, users, {m.id: days[m.id] for m in missing})
    wanted = [days[m.id] for m in missing]
    return snapshot_days(session, [m.id for m in missing], min(wanted), max(wanted))


def materialise_today(session: Session, members: Sequence[Member], start: date, end: date) -> None:
    """:func:`materialise` for the athletes whose local today lies from ``start`` to ``end``."""
    days = {m.id: m.today for m in members if m.shown and start <= m.today <= end}
    if days:
        present = snapshot_days(session, list(days), min(days.values()), max(days.values()))
        materialise(session, _without_today(members, days, present), days)


@dataclass(frozen=True)
class TeamTable:
    """The rows shown, in order, and per athlete the signals the request let the viewer learn."""

    rows: list[Row]
    disclosed: dict[int, frozenset[str]]


def read_team_table(
    session: Session,
    access: TeamAccess,
    day: date | None,
    filters: TableFilters,
    sort: Sequence[SortKey] = DEFAULT_SORT,
) -> TeamTable:
    """One row per athlete for ``day`` (default: each athlete's own local today)."""
    members = [m for m in team_members(session, access) if filters.matches_name(m.name)]
    days = {m.id: day or m.today for m in members}
    if not members:
        return TeamTable([], {})
    data = read_team_data(session, members, min(days.values()), max(days.values()))
    if missing := _without_today(members, days, data.snapshots):
        data = replace(data, snapshots={**data.snapshots, **materialise(session, missing, days)})
    shown: list[Values] = []
    disclosed: dict[int, frozenset[str]] = {}
    for member in members:
        row = build_row(member, days[member.id], days[member.id].isoformat(), data)
        if filters.matches(row):
            shown.append(row)
            disclosed[member.id] = member.shown
        elif read := filters.consulted(member.granted):
            disclosed[member.id] = read
    return TeamTable([as_object(row) for row in sort_rows(shown, sort)], disclosed)


# --------------------------------------------------------------------------------------------
# A date range (the CSV's from/to): rows per athlete and day, read a window of days at a time
# --------------------------------------------------------------------------------------------

# Days read per round of statements: bounds the memory of a long range (a window of a 200-athlete
# team is a few thousand rows) while keeping the statements of a year to a few dozen. Two windows
# are alive at a time: the one whose rows are being sent and the next, being read meanwhile.
WINDOW_DAYS = 31


def range_candidates(members: Sequence[Member], filters: TableFilters) -> list[Member]:
    """The athletes who can appear in a range's rows: the name matches and, under a band or
    flag filter, their readiness is visible (else no row of theirs can match)."""
    return [
        m
        for m in members
        if m.shown and filters.matches_name(m.name) and (not filters.on_values or "readiness" in m.granted)
    ]


def range_disclosed(members: Sequence[Member], filters: TableFilters) -> dict[int, frozenset[str]]:
    """What a range read may let through, decided before the rows are read (they are streamed):
    each candidate's table signals. An athlete whose rows a filter leaves out on every day is
    audited all the same — the filter read their data."""
    return {m.id: m.shown for m in range_candidates(members, filters)}


def range_rows(
    open_session: Callable[[], AbstractContextManager[Session]],
    members: Sequence[Member],
    start: date,
    end: date,
    filters: TableFilters,
    sort: Sequence[SortKey] = DEFAULT_SORT,
) -> Iterator[Values]:
    """Every athlete's row (its values in :data:`COLUMNS` order) of every day from ``start`` to
    ``end``, by date and then ``sort``.

    Each window of :data:`WINDOW_DAYS` days is read in a transaction of its own
    (``open_session``), closed before its rows are handed on: a long read holds no transaction
    open while the rows are sent. The next window is read (in a thread of its own) while this
    one's rows are made and sent, so the database and the rows overlap. Athletes the viewer
    may see nothing of are listed, as in the one-day table."""
    candidates = [m for m in members if filters.matches_name(m.name)]
    readable = range_candidates(candidates, filters)
    windows = []
    window_start = start
    while window_start <= end:
        window_end = min(end, window_start + timedelta(days=WINDOW_DAYS - 1))
        windows.append((window_start, window_end))
        window_start = window_end + timedelta(days=1)

    def read(window: tuple[date, date]) -> TeamData:
        with open_session() as session:
            return read_team_data(session, readable, *window)

    if not windows:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="team-range") as reader:
        ahead: Future[TeamData] = reader.submit(read, windows[0])
        for index, (window_start, window_end) in enumerate(windows):
            data = ahead.result()
            if index + 1 < len(windows):
                ahead = reader.submit(read, windows[index + 1])
            day = window_start
            while day <= window_end:
                iso_day = day.isoformat()
                rows = [build_row(member, day, iso_day, data) for member in candidates]
                yield from sort_rows([row for row in rows if filters.matches(row)], sort)
                day += timedelta(days=1)
            # Let the window go before the one after next is read: no third is ever alive.
            del data
