"""The drill-in: one athlete of a team over a chosen range of days, in charts — readiness, ln rMSSD
inside its normal band, resting HR against its baseline, sleep and sleep debt.

The days are the trend service's (``GET /api/v1/teams/{teamId}/athletes/{athleteId}/trend``),
read through the same dependency with the session cookie as the reader: a coach of the team
reads what the athlete shares with them, audited; a signal the athlete keeps to themself is not
even read, and its charts say "hidden" instead of drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from statistics import mean
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from perfhub.core.dates import DateRange, local_today
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.privacy.deps import AthleteRead, ReadRequest
from perfhub.readiness.engine.rules import BASELINE_WINDOW
from perfhub.readiness.presenter import flag_label
from perfhub.readiness.trend import TREND_SIGNALS, trend_days
from perfhub.teams import queries
from perfhub.web.deps import session_user
from perfhub.web.routes._charts import Chart, ChartSeries, day_span, hours_minutes, rounded, short_day
from perfhub.web.routes._team_view import BAND_WORDS, DEBT_WORDS
from perfhub.web.routes._words import signal_word
from perfhub.web.templating import render

router = APIRouter()

# One member of the team, over from/to, as the API's trend reads them.
TrendPageRead = Annotated[
    ReadRequest, AthleteRead(signals=TREND_SIGNALS, dated=True, in_team=True, reader=session_user)
]

# The page's sections and the signal each one draws.
SECTIONS = {"readiness": "readiness", "hrv": "hrv", "rhr": "hrv", "sleep": "sleep"}

QUICK_RANGES = ((14, "14 days"), (30, "30 days"), (90, "90 days"), (365, "1 year"))

Day = dict[str, Any]


@router.get("/teams/{teamId}/athletes/{athleteId}")
def athlete_trend_page(request: Request, uow: UowDep, read: TrendPageRead) -> Response:
    """``?from=&to=`` as the API takes them (default: the 30 days up to the athlete's today)."""
    now = request.app.state.runtime.clock()
    assert read.team_id is not None  # an in-team read
    with uow() as session:
        access, span = read.authorize_range(session, partial=True)
        days = trend_days(session, access, span)
        found = queries.relation_to(session, read.viewer, read.team_id)
        if found is None:
            raise NotFound(f"no team with id {read.team_id}")
        subject = access.subject
        name = subject.name or subject.email
        today = local_today(subject.tz, now)
    base = f"/teams/{read.team_id}/athletes/{subject.id}"
    granted = access.granted
    return render(
        request,
        "athlete_trend.html",
        {
            "team_id": read.team_id,
            "team_name": found[0].name,
            "name": name,
            "is_self": access.is_self,
            "action": base,
            "start": span.start.isoformat(),
            "end": span.end.isoformat(),
            "span_text": day_span(span.start, span.end),
            "span_days": len(days),
            "quick": quick_ranges(base, today, span),
            "hidden": {
                section: hidden_words(name, signal, section)
                for section, signal in SECTIONS.items()
                if signal not in granted
            },
            "readiness_chart": readiness_chart(days) if "readiness" in granted else None,
            "hrv_chart": hrv_chart(days) if "hrv" in granted else None,
            "rhr_chart": rhr_chart(days) if "hrv" in granted else None,
            "sleep_chart": sleep_chart(days) if "sleep" in granted else None,
            "table": [table_row(day, granted) for day in reversed(days)],
            "granted": granted,
            "baseline_window": BASELINE_WINDOW,
        },
        user=read.viewer,
        title=f"{name} · trend",
    )


def hidden_words(name: str, signal: str, section: str) -> str:
    if section == "rhr":
        return f"Hidden: {name} does not share HRV, which includes resting heart rate, with you."
    return f"Hidden: {name} does not share {signal_word(signal)} with you, so it is not shown."


def quick_ranges(base: str, today: date, span: DateRange) -> list[dict[str, Any]]:
    links = []
    for days, label in QUICK_RANGES:
        start = today - timedelta(days=days - 1)
        links.append(
            {
                "label": label,
                "href": base + "?" + urlencode({"from": start.isoformat(), "to": today.isoformat()}),
                "current": (span.start, span.end) == (start, today),
            }
        )
    return links


def _values(days: Sequence[Day], key: str, places: int) -> list[float | None]:
    return [rounded(day.get(key), places) for day in days]


def _present(days: Sequence[Day], key: str) -> list[Day]:
    return [day for day in days if day.get(key) is not None]


def _label(what: str, days: Sequence[Day], extra: str = "") -> str:
    return f"{what} for each day from {short_day(days[0]['date'])} to {short_day(days[-1]['date'])}{extra}"


def readiness_chart(days: Sequence[Day]) -> Chart | None:
    scored = _present(days, "readiness")
    if not scored:
        return None
    counts = {band: sum(day.get("band") == band for day in scored) for band in BAND_WORDS}
    latest = scored[-1]
    summary = (
        f"Readiness was scored on {len(scored)} of {len(days)} days, between "
        f"{min(d['readiness'] for d in scored)} and {max(d['readiness'] for d in scored)}: "
        + ", ".join(f"{words.lower()} on {counts[band]}" for band, words in BAND_WORDS.items())
        + f". On {short_day(latest['date'])} it was {latest['readiness']} "
        f"({BAND_WORDS.get(latest.get('band') or '', '').lower()})."
    )
    return Chart(
        element_id="readiness-chart",
        label=_label("Line chart of the readiness score (0 to 100)", days),
        summary=summary,
        days=[day["date"] for day in days],
        y_label="Readiness (0–100)",
        unit="",
        decimals=0,
        series=[ChartSeries("Readiness", [day.get("readiness") for day in days], "line", "primary")],
        counted=0,
        y_floor=0.0,
        y_ceiling=100.0,
    )


def position(value: float, low: float, high: float) -> str:
    return "below" if value < low else "above" if value > high else "within"


def hrv_chart(days: Sequence[Day]) -> Chart | None:
    nights = _present(days, "lnRMSSD")
    if not nights:
        return None
    judged = [d for d in nights if d.get("normalLow") is not None and d.get("normalHigh") is not None]
    counts = {"below": 0, "within": 0, "above": 0}
    for day in judged:
        counts[position(day["lnRMSSD"], day["normalLow"], day["normalHigh"])] += 1
    summary = f"ln rMSSD was recorded on {len(nights)} of {len(days)} nights"
    if judged:
        summary += (
            f": {counts['within']} inside the normal range, {counts['below']} below it and "
            f"{counts['above']} above it."
        )
    else:
        summary += ". There is no normal range to compare with yet."
    return Chart(
        element_id="hrv-chart",
        label=_label("Chart of ln rMSSD", days, ", with the normal range shaded"),
        summary=summary,
        days=[day["date"] for day in days],
        y_label="ln rMSSD (ln ms)",
        unit="",
        decimals=2,
        series=[
            ChartSeries("Normal range, top", _values(days, "normalHigh", 3), "band-edge", "band"),
            ChartSeries("Normal range, bottom", _values(days, "normalLow", 3), "band-edge", "band"),
            ChartSeries("ln rMSSD, each night", _values(days, "lnRMSSD", 3), "points", "primary"),
        ],
        counted=2,
        band=(0, 1),
        band_label="Normal range",
    )


def rhr_chart(days: Sequence[Day]) -> Chart | None:
    nights = _present(days, "restingHr")
    if not nights:
        return None
    values = [day["restingHr"] for day in nights]
    latest = nights[-1]
    summary = (
        f"Resting HR was recorded on {len(nights)} of {len(days)} nights, between {min(values):.0f} and "
        f"{max(values):.0f} bpm"
    )
    baseline = latest.get("restingHrBaseline")
    if baseline is not None:
        summary += (
            f". On {short_day(latest['date'])} it was {latest['restingHr']:.0f} bpm against a "
            f"{BASELINE_WINDOW}-day baseline of {baseline:.0f} bpm "
            f"({latest['restingHr'] - baseline:+.0f} bpm)."
        )
    else:
        summary += "; there is no baseline to compare with yet."
    return Chart(
        element_id="rhr-chart",
        label=_label("Line chart of resting heart rate", days, f", with its {BASELINE_WINDOW}-day baseline"),
        summary=summary,
        days=[day["date"] for day in days],
        y_label="Resting HR (bpm)",
        unit="bpm",
        decimals=0,
        series=[
            ChartSeries(
                f"Baseline ({BASELINE_WINDOW}-day mean)",
                _values(days, "restingHrBaseline", 1),
                "reference",
                "secondary",
            ),
            ChartSeries("Resting HR", _values(days, "restingHr", 1), "line", "primary"),
        ],
        counted=1,
    )


def sleep_chart(days: Sequence[Day]) -> Chart | None:
    nights = _present(days, "sleepMin")
    debts = _present(days, "sleepDebtHours")
    if not nights and not debts:
        return None
    sentences = []
    if nights:
        average = mean(day["sleepMin"] for day in nights)
        sentences.append(
            f"Sleep was recorded on {len(nights)} of {len(days)} nights, {hours_minutes(average)} on average"
        )
    else:
        sentences.append(f"No sleep was recorded in these {len(days)} nights")
    if debts:
        latest = debts[-1]
        category = DEBT_WORDS.get(latest.get("sleepDebtCategory") or "", "").lower()
        sentences.append(
            f"sleep debt on {short_day(latest['date'])} was {latest['sleepDebtHours']:.1f} h ({category})"
        )
    return Chart(
        element_id="sleep-chart",
        label=_label(
            "Bar chart of hours asleep each night", days, ", with the sleep debt in hours as a line"
        ),
        summary="; ".join(sentences) + ".",
        days=[day["date"] for day in days],
        y_label="Hours",
        unit="h",
        decimals=1,
        series=[
            ChartSeries(
                "Time asleep",
                [None if day.get("sleepMin") is None else round(day["sleepMin"] / 60, 2) for day in days],
                "bars",
                "primary",
            ),
            ChartSeries("Sleep debt", _values(days, "sleepDebtHours", 2), "line", "high"),
        ],
        counted=0,
        y_floor=0.0,
    )


HIDDEN = "hidden"
NONE = "—"


def _fixed(value: float | None, places: int) -> str:
    return NONE if value is None else f"{value:.{places}f}"


def table_row(day: Day, granted: frozenset[str]) -> dict[str, str]:
    """One day as numbers; a signal not shared is "hidden" in each of its columns."""
    readiness = "readiness" in granted
    hrv = "hrv" in granted
    sleep = "sleep" in granted
    low, high = day.get("normalLow"), day.get("normalHigh")
    score = day.get("readiness")
    band = BAND_WORDS.get(day.get("band") or "", "")
    return {
        "day": short_day(day["date"]),
        "readiness": HIDDEN if not readiness else NONE if score is None else f"{score} {band.lower()}",
        "flags": HIDDEN
        if not readiness
        else ", ".join(flag_label(code) for code in day.get("flags") or []) or NONE,
        "ln": HIDDEN if not hrv else _fixed(day.get("lnRMSSD"), 2),
        "range": HIDDEN if not hrv else NONE if low is None or high is None else f"{low:.2f}–{high:.2f}",
        "rhr": HIDDEN if not hrv else _fixed(day.get("restingHr"), 0),
        "baseline": HIDDEN if not hrv else _fixed(day.get("restingHrBaseline"), 0),
        "sleep": HIDDEN
        if not sleep
        else NONE
        if day.get("sleepMin") is None
        else hours_minutes(float(day["sleepMin"])),
        "debt": HIDDEN if not sleep else _fixed(day.get("sleepDebtHours"), 1),
    }
