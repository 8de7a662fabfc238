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
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import local_today, parse_date
from perfhub.core.db import one_of
from perfhub.core.errors import Unprocessable
from perfhub.privacy.policy import TeamAccess, flag_signals, visible_flags
from perfhub.readiness.engine import BAND_NAMES, DEBT_CATEGORIES, FLAG_CODES, STATUS_NAMES, category_for
from perfhub.readiness.queries import SnapshotDay, snapshot_days
from perfhub.readiness.service import recompute
from perfhub.readings.queries import NightHrv, NightSleep, source_priority, winning_hrv, winning_sleep

__all__ = [
    "COLUMNS",
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

HRV_VS_NORMAL: tuple[str, ...] = ("below", "within", "above")

# Columns whose words sort in their natural order (low before reduced …), not alphabetically.
_ORDINALS: Mapping[str, Sequence[str]] = {
    "band": BAND_NAMES,
    "status": STATUS_NAMES,
    "sleepDebtCategory": DEBT_CATEGORIES,
    "hrvVsNormal": HRV_VS_NORMAL,
}

Row = dict[str, Any]


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

    def matches(self, row: Row) -> bool:
        """Whether a row (already cut to the viewer's grants) passes the band and flag filters.

        A hidden band or flag is null or absent in the row, so it never matches."""
        if self.bands and row["band"] not in self.bands:
            return False
        return not self.flags or bool(self.flags.intersection(row["flags"] or ()))

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


def sort_rows(rows: list[Row], keys: Sequence[SortKey]) -> list[Row]:
    """``rows`` by ``keys``, nulls last in either direction; ties by name, then athlete id.

    Stable sorts from the least significant key to the most: each puts its nulls after the
    rest, keeping the order the earlier sorts gave them."""
    ordered_rows = sorted(rows, key=lambda row: (_sort_value("name", row["name"]), row["athleteId"]))
    for key in reversed(keys):
        present = [row for row in ordered_rows if row[key.column] is not None]
        missing = [row for row in ordered_rows if row[key.column] is None]
        present.sort(key=lambda row: _sort_value(key.column, row[key.column]), reverse=key.descending)
        ordered_rows = present + missing
    return ordered_rows


def parse_day(raw: str | None) -> date | None:
    return parse_date(raw, "date") if raw else None


# --------------------------------------------------------------------------------------------
# The team, its data and the rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """An athlete of the table with what the viewer may read of them."""

    user: User
    granted: frozenset[str]

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name or self.user.email

    @property
    def shown(self) -> frozenset[str]:
        """The table's signals the viewer may read of this athlete."""
        return self.granted & frozenset(TABLE_SIGNALS)

    @property
    def hidden(self) -> list[str]:
        return [signal for signal in TABLE_SIGNALS if signal not in self.granted]

    def today(self) -> date:
        return local_today(self.user.tz)


def team_members(session: Session, access: TeamAccess) -> list[Member]:
    """The team's athletes the viewer may know of (the policy's answer), in one statement."""
    if not access.grants:
        return []
    users = session.scalars(
        select(User).where(one_of(User.id, list(access.grants), session.get_bind().dialect.name))
    )
    return [Member(user, access.granted(user.id)) for user in users]


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

    def ids(*signals: str) -> list[int]:
        return [m.id for m in members if any(signal in m.granted for signal in signals)]

    def priorities(signal: str) -> dict[int, tuple[str, ...]]:
        return {m.id: source_priority(m.user) for m in members if signal in m.granted}

    snapshot_ids, hrv_of, sleep_of = ids(*TABLE_SIGNALS), priorities("hrv"), priorities("sleep")
    return TeamData(
        snapshot_days(session, snapshot_ids, start, end) if snapshot_ids else {},
        winning_hrv(session, hrv_of, start, end) if hrv_of else {},
        winning_sleep(session, sleep_of, start, end) if sleep_of else {},
    )


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def hrv_vs_normal(ln7: float | None, low: float | None, high: float | None) -> str | None:
    """Where the 7-day HRV lies against the normal range — the comparison readiness makes
    (docs/readiness.md#normal-range), so ``below`` goes with the ``hrv_below_range`` flag."""
    if ln7 is None or low is None or high is None:
        return None
    return "below" if ln7 < low else "above" if ln7 > high else "within"


def build_row(member: Member, day: date, data: TeamData) -> Row:
    """One athlete-day as the viewer may see it: the columns of an ungranted signal are null."""
    key = (member.id, day)
    snap, hrv, sleep = data.snapshots.get(key), data.hrv.get(key), data.sleep.get(key)
    granted = member.granted
    row: Row = dict.fromkeys(COLUMNS)
    row.update(date=day, athleteId=member.id, name=member.name, hidden=member.hidden)
    if "readiness" in granted and snap is not None:
        row.update(
            readiness=None if snap.score is None else int(snap.score),
            band=snap.band,
            status=snap.status,
            stale=snap.stale,
            flags=visible_flags(granted, snap.flags)[0],
        )
    if "sleep" in granted:
        debt = None if snap is None else snap.debt_hours
        row.update(
            sleepDebtHours=_rounded(debt, 2),
            sleepDebtCategory=None if debt is None else category_for(debt),
            lastSleepMin=None if sleep is None else sleep.duration_min,
            lastSleepEfficiencyPct=None if sleep is None else sleep.efficiency_pct,
        )
    if "hrv" in granted:
        low, high = (None, None) if snap is None else (snap.normal_low, snap.normal_high)
        row.update(
            lnRMSSD=None if hrv is None else _rounded(hrv.ln_rmssd, 4),
            normalLow=_rounded(low, 4),
            normalHigh=_rounded(high, 4),
            hrvVsNormal=None if snap is None else hrv_vs_normal(snap.ln7, low, high),
        )
    return row


def _without_today(
    members: Sequence[Member], days: Mapping[int, date], snapshots: Mapping[tuple[int, date], SnapshotDay]
) -> list[Member]:
    """The athletes whose row is their local today and has no snapshot yet (nothing has arrived
    since midnight to make one)."""
    return [
        m for m in members if m.shown and days.get(m.id) == m.today() and (m.id, days[m.id]) not in snapshots
    ]


def materialise(
    session: Session, missing: Sequence[Member], days: Mapping[int, date]
) -> dict[tuple[int, date], SnapshotDay]:
    """Compute today's snapshot of ``missing`` as ``GET /readiness/today`` would (one batch
    recompute for all of them) and read what it stored."""
    if not missing:
        return {}
    recompute(session, [m.user for m in missing], {m.id: days[m.id] for m in missing})
    wanted = [days[m.id] for m in missing]
    return snapshot_days(session, [m.id for m in missing], min(wanted), max(wanted))


def materialise_today(session: Session, members: Sequence[Member], start: date, end: date) -> None:
    """:func:`materialise` for the athletes whose local today lies from ``start`` to ``end``."""
    days = {m.id: m.today() for m in members if m.shown and start <= m.today() <= end}
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
    days = {m.id: day or m.today() for m in members}
    if not members:
        return TeamTable([], {})
    data = read_team_data(session, members, min(days.values()), max(days.values()))
    if missing := _without_today(members, days, data.snapshots):
        data = replace(data, snapshots={**data.snapshots, **materialise(session, missing, days)})
    shown: list[Row] = []
    disclosed: dict[int, frozenset[str]] = {}
    for member in members:
        row = build_row(member, days[member.id], data)
        if filters.matches(row):
            shown.append(row)
            disclosed[member.id] = member.shown
        elif read := filters.consulted(member.granted):
            disclosed[member.id] = read
    return TeamTable(sort_rows(shown, sort), disclosed)


# --------------------------------------------------------------------------------------------
# A date range (the CSV's from/to): rows per athlete and day, read a window of days at a time
# --------------------------------------------------------------------------------------------

# Days read per round of statements: bounds the memory of a long range (a window of a 200-athlete
# team is a few thousand rows) while keeping the statements of a year to a handful.
WINDOW_DAYS = 62


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
) -> Iterator[Row]:
    """Every athlete's row of every day from ``start`` to ``end``, by date and then ``sort``.

    Each window of :data:`WINDOW_DAYS` days is read in a transaction of its own
    (``open_session``), closed before its rows are handed on: a long read holds no transaction
    open while the rows are sent. Athletes the viewer may see nothing of are listed, as in the
    one-day table."""
    candidates = [m for m in members if filters.matches_name(m.name)]
    readable = range_candidates(candidates, filters)
    window_start = start
    while window_start <= end:
        window_end = min(end, window_start + timedelta(days=WINDOW_DAYS - 1))
        with open_session() as session:
            data = read_team_data(session, readable, window_start, window_end)
        day = window_start
        while day <= window_end:
            rows = [build_row(member, day, data) for member in candidates]
            yield from sort_rows([row for row in rows if filters.matches(row)], sort)
            day += timedelta(days=1)
        window_start = window_end + timedelta(days=1)
