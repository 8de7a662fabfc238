"""What the chart pages share: the data a chart draws (read by ``static/js/charts.js``) and
how days and durations are written.

A chart travels to the browser as JSON in a ``<script type="application/json">`` block (the
pages' CSP runs no inline script); ``templates/_chart.html`` renders the block, the chart's
element with its aria-label, and the sentence that says in words what the chart shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from perfhub.auth.models import User
from perfhub.core.errors import Forbidden

# How charts.js draws a series: bars, a line with a dot per value, dots only, a dashed edge of a
# shaded band, a dashed reference line (a baseline, its value in the legend) or a dashed
# threshold (its label names its value).
SeriesKind = Literal["bars", "line", "points", "band-edge", "reference", "threshold"]


@dataclass(frozen=True)
class ChartSeries:
    label: str
    values: Sequence[float | None]
    kind: SeriesKind
    colour: str  # a name from charts.js's palette, so the page's colours live in one place


@dataclass(frozen=True)
class Chart:
    """One chart: days on the x axis, ``series`` in drawing order.

    ``counted`` is the series whose values are the athlete's points (charts.js writes how many
    it drew into ``data-points``); ``band`` names two series (upper, lower) to shade between.
    """

    element_id: str
    label: str  # the chart's aria-label
    summary: str  # the .chart-summary sentence
    days: Sequence[date]
    y_label: str
    unit: str
    decimals: int
    series: Sequence[ChartSeries]
    counted: int = 0
    band: tuple[int, int] | None = None
    band_label: str = ""
    y_floor: float | None = None  # the y axis starts here (sleep debt at 0 h)
    y_ceiling: float | None = None  # the y axis reaches at least this (to show every threshold)
    x_label: str = "Night (date woken up)"  # under the x axis
    x_name: str = "Night"  # what the legend calls the x value of the point under the cursor

    def points(self) -> int:
        """How many of the athlete's values the chart shows."""
        return sum(value is not None for value in self.series[self.counted].values)

    def as_json(self) -> dict[str, Any]:
        return {
            "x": [day.isoformat() for day in self.days],
            "xLabel": self.x_label,
            "xName": self.x_name,
            "yLabel": self.y_label,
            "unit": self.unit,
            "decimals": self.decimals,
            "series": [
                {"label": s.label, "values": list(s.values), "kind": s.kind, "colour": s.colour}
                for s in self.series
            ],
            "counted": self.counted,
            "band": None if self.band is None else {"series": list(self.band), "label": self.band_label},
            "yFloor": self.y_floor,
            "yCeiling": self.y_ceiling,
        }


# Written out rather than strftime's %a/%b, which follow the server process's locale.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def short_day(day: date) -> str:
    """``Tue 25 Nov``."""
    return f"{WEEKDAYS[day.weekday()][:3]} {day.day} {MONTHS[day.month - 1][:3]}"


def long_day(day: date) -> str:
    """``Tuesday 25 November 2025``."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def day_span(start: date, end: date) -> str:
    """``3 Nov – 25 Nov 2025`` (the year once when both ends share it)."""
    first = f"{start.day} {MONTHS[start.month - 1][:3]}"
    if start.year != end.year:
        first += f" {start.year}"
    return f"{first} – {end.day} {MONTHS[end.month - 1][:3]} {end.year}"


def hours_minutes(minutes: float) -> str:
    """``7:05`` for 425 minutes (rounded to the minute)."""
    whole = round(minutes)
    return f"{whole // 60}:{whole % 60:02d}"


def hours_minutes_words(minutes: float) -> str:
    """``7 hours 5 minutes``, for screen readers beside :func:`hours_minutes`."""
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def rounded(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def require_athlete(subject: User, what: str) -> None:
    """Only athletes have nights: a coach or admin who opens the page for themself is told how
    to open it for an athlete, rather than shown an empty page."""
    if subject.role != "athlete":
        raise Forbidden(
            f"This page shows an athlete's {what}. Open it for one of your athletes from their team page."
        )
