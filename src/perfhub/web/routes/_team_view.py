"""The coach's team table as the page shows it: the columns, each cell in words, hidden signals
as the word "hidden" (never a zero or a blank), and the links that sort and filter it.

Pure presentation of the rows :func:`perfhub.readiness.team_table.read_team_table` returns (the
API's rows): nothing here decides what a coach may see. The filters and the sort order live in
the URL, so a table can be bookmarked, shared with a co-coach, reloaded and downloaded as the
very same CSV (:meth:`TableQuery.csv_href`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from perfhub.readiness.engine import BAND_NAMES, FLAG_CODES
from perfhub.readiness.presenter import flag_label
from perfhub.readiness.team_table import SortKey
from perfhub.web.routes._charts import hours_minutes, hours_minutes_words, short_day
from perfhub.web.routes._words import signal_word

Row = Mapping[str, Any]

BAND_WORDS = {"low": "Low", "reduced": "Reduced", "normal": "Normal", "elevated": "Elevated"}
STATUS_WORDS = {"calibrating": "Calibrating", "provisional": "Provisional", "full": "Full"}
DEBT_WORDS = {"none": "None", "low": "Low", "moderate": "Moderate", "high": "High"}
POSITION_WORDS = {"below": "Below range", "within": "Within range", "above": "Above range"}


@dataclass(frozen=True)
class Column:
    key: str  # the id of the column on the page
    label: str
    sort: str  # the table column it sorts by (perfhub.readiness.team_table.COLUMNS)
    signal: str | None  # the signal its values belong to (None: the athlete's name)


COLUMNS: tuple[Column, ...] = (
    Column("athlete", "Athlete", "name", None),
    Column("readiness", "Readiness", "readiness", "readiness"),
    Column("status", "Status", "status", "readiness"),
    Column("stale", "Old data", "stale", "readiness"),
    Column("debt", "Sleep debt", "sleepDebtHours", "sleep"),
    Column("sleep", "Last night", "lastSleepMin", "sleep"),
    Column("hrv", "HRV vs normal", "hrvVsNormal", "hrv"),
    Column("flags", "Flags", "flags", "readiness"),
)


@dataclass(frozen=True)
class TableQuery:
    """What a table request asked for, as the page and its CSV link carry it."""

    team_id: int
    day: date | None = None
    bands: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    q: str = ""
    sort: str = ""

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query string's pairs, empty ones left out (a blank date means each athlete's today)."""
        values = {
            "date": self.day.isoformat() if self.day else "",
            "band": self.bands,
            "flag": self.flags,
            "q": self.q,
            "sort": self.sort,
        }
        values.update(changes)
        pairs: list[tuple[str, str]] = []
        for name, value in values.items():
            if isinstance(value, tuple | list):
                pairs += [(name, str(item)) for item in value]
            elif value:
                pairs.append((name, str(value)))
        return pairs

    def href(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return f"/teams/{self.team_id}" + (f"?{query}" if query else "")

    def csv_href(self) -> str:
        """The page's CSV: the same query on the same service, read with the session cookie."""
        query = urlencode(self.params())
        return f"/teams/{self.team_id}/readiness.csv" + (f"?{query}" if query else "")

    @property
    def filtered(self) -> bool:
        return bool(self.day or self.bands or self.flags or self.q)


@dataclass(frozen=True)
class Header:
    column: Column
    href: str  # sorts by this column (the other way round when it is the current order)
    aria_sort: str | None  # "ascending" / "descending" on the column the table is sorted by
    next_order: str  # what following the link does, in words


def headers(query: TableQuery, keys: Sequence[SortKey]) -> list[Header]:
    current = keys[0] if keys else SortKey("name")
    out = []
    for column in COLUMNS:
        is_current = column.sort == current.column
        descending_next = is_current and not current.descending
        aria = None
        if is_current:
            aria = "descending" if current.descending else "ascending"
        out.append(
            Header(
                column=column,
                href=query.href(sort=("-" if descending_next else "") + column.sort),
                aria_sort=aria,
                next_order="descending" if descending_next else "ascending",
            )
        )
    return out


@dataclass(frozen=True)
class Cell:
    text: str
    detail: str = ""  # a second, quieter line
    label: str = ""  # aria-label, where the words alone would not say enough
    css: str = ""  # the cell's class: hidden, no data
    band: str = ""  # the readiness band, drawn as its pill


@dataclass(frozen=True)
class RowView:
    athlete_id: int
    name: str
    day: date
    cells: dict[str, Cell] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # the row as the CSV writes it


NO_DATA = "no data"


def hidden_cell(column: Column, name: str) -> Cell:
    word = signal_word(column.signal or "")
    return Cell(
        "hidden",
        label=f"{column.label}: hidden — {name} does not share {word} with you",
        css="is-hidden",
    )


def missing_cell(column: Column) -> Cell:
    return Cell(NO_DATA, label=f"{column.label}: no data for this day", css="no-data")


def _readiness(row: Row) -> Cell:
    score, band = row["readiness"], row["band"]
    if row["status"] is None:
        return missing_cell(COLUMNS[1])
    if score is None:
        return Cell("no score", label="Readiness: no score for this day", css="no-data")
    words = BAND_WORDS.get(band or "", band or "")
    return Cell(str(score), detail=words, label=f"Readiness {score}, {words.lower()} band", band=band or "")


def _debt(row: Row) -> Cell:
    hours, category = row["sleepDebtHours"], row["sleepDebtCategory"]
    if hours is None:
        return Cell(NO_DATA, label="Sleep debt: not enough nights yet", css="no-data")
    words = DEBT_WORDS.get(category or "", category or "")
    return Cell(f"{hours:.1f} h", detail=words, label=f"Sleep debt {hours:.1f} hours, {words.lower()}")


def _sleep(row: Row) -> Cell:
    minutes, efficiency = row["lastSleepMin"], row["lastSleepEfficiencyPct"]
    if minutes is None:
        return Cell(NO_DATA, label="Last night: no sleep recorded", css="no-data")
    detail = "" if efficiency is None else f"{efficiency:.0f}% efficient"
    label = f"Last night {hours_minutes_words(minutes)} asleep" + (f", {detail}" if detail else "")
    return Cell(hours_minutes(minutes), detail=detail, label=label)


def _hrv(row: Row) -> Cell:
    ln, low, high, position = row["lnRMSSD"], row["normalLow"], row["normalHigh"], row["hrvVsNormal"]
    if ln is None and position is None:
        return Cell(NO_DATA, label="HRV: none recorded for this night", css="no-data")
    words = POSITION_WORDS.get(position or "", "No range yet")
    detail_parts = []
    if ln is not None:
        detail_parts.append(f"ln rMSSD {ln:.2f}")
    if low is not None and high is not None:
        detail_parts.append(f"range {low:.2f}–{high:.2f}")
    detail = ", ".join(detail_parts)
    return Cell(
        words, detail=detail, label=f"HRV: 7-day average {words.lower()}" + (f"; {detail}" if detail else "")
    )


def _flags(row: Row) -> Cell:
    flags = row["flags"]
    if flags is None:
        return missing_cell(COLUMNS[-1])
    if not flags:
        return Cell("none", label="Flags: none")
    words = "; ".join(flag_label(code) for code in flags)
    return Cell(words, label=f"Flags: {words}")


def _status(row: Row) -> Cell:
    status = row["status"]
    return missing_cell(COLUMNS[2]) if status is None else Cell(STATUS_WORDS.get(status, str(status)))


def _stale(row: Row) -> Cell:
    stale = row["stale"]
    if stale is None:
        return missing_cell(COLUMNS[3])
    return Cell("Yes" if stale else "No", label="Old data: " + ("yes" if stale else "no"))


_CELLS: Mapping[str, Callable[[Row], Cell]] = {
    "readiness": _readiness,
    "status": _status,
    "stale": _stale,
    "debt": _debt,
    "sleep": _sleep,
    "hrv": _hrv,
    "flags": _flags,
}


def as_day(value: date | str) -> date:
    """A row's day: the table's rows carry it in ISO form (as JSON and the CSV show it)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def row_view(row: Row) -> RowView:
    """A row's cells: a signal the athlete does not share is "hidden" in every column it covers."""
    name = str(row["name"])
    hidden = set(row["hidden"])
    cells: dict[str, Cell] = {"athlete": Cell(name)}
    for column in COLUMNS[1:]:
        if column.signal in hidden:
            cells[column.key] = hidden_cell(column, name)
        else:
            cells[column.key] = _CELLS[column.key](row)
    return RowView(int(row["athleteId"]), name, as_day(row["date"]), cells, dict(row))


def day_words(query: TableQuery, rows: Sequence[Row]) -> str:
    """Which day the table shows, in words ("today, Mon 30 Nov")."""
    if query.day is not None:
        return short_day(query.day) + f" {query.day.year}"
    days = sorted({as_day(row["date"]) for row in rows})
    if len(days) == 1:
        return f"today, {short_day(days[0])}"
    if days:
        span = f"{short_day(days[0])} to {short_day(days[-1])}"
        return f"each athlete's own today ({span}: their time zones differ)"
    return "each athlete's own today"


def filter_options(query: TableQuery) -> dict[str, list[tuple[str, str, bool]]]:
    """Every band and flag with its words and whether the query ticks it."""
    return {
        "bands": [(band, BAND_WORDS[band], band in query.bands) for band in BAND_NAMES],
        "flags": [(code, flag_label(code), code in query.flags) for code in FLAG_CODES],
    }


def filters_in_words(query: TableQuery) -> list[str]:
    words = []
    if query.bands:
        words.append("band " + ", ".join(BAND_WORDS[band].lower() for band in query.bands))
    if query.flags:
        words.append("flag " + ", ".join(flag_label(code).lower() for code in query.flags))
    if query.q:
        words.append(f"name contains “{query.q}”")
    return words
