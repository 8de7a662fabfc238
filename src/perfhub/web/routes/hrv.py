"""The HRV page: ln rMSSD per night against the athlete's normal range, and resting HR against
its baseline, over a chosen range of days."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from perfhub.auth.models import User
from perfhub.core.dates import DateRange, local_today
from perfhub.core.deps import UowDep
from perfhub.privacy.deps import ReadRequest
from perfhub.privacy.disclosure import HRV_DAY
from perfhub.privacy.policy import disclose_rows
from perfhub.readiness.engine.rules import BASELINE_MIN_READINGS, BASELINE_WINDOW
from perfhub.readiness.service import hrv_baselines
from perfhub.web.deps import PageRead
from perfhub.web.routes._charts import Chart, ChartSeries, day_span, require_athlete, rounded, short_day
from perfhub.web.templating import render

router = APIRouter()

HrvPageRead = Annotated[ReadRequest, PageRead(signals={"hrv"}, dated=True)]

QUICK_RANGES = ((14, "14 days"), (30, "30 days"), (90, "90 days"), (365, "1 year"))

Row = dict[str, Any]


@router.get("/hrv")
def hrv_page(request: Request, uow: UowDep, read: HrvPageRead) -> Response:
    """``?from=&to=`` as the API takes them (default: the 30 days up to the athlete's today)."""
    now = request.app.state.runtime.clock()
    with uow() as session:
        access, span = read.authorize_range(session)
        subject = access.subject
        require_athlete(subject, "HRV")
        days = hrv_baselines(session, subject, span.start, span.end)
        rows = disclose_rows(access, HRV_DAY, (asdict(day) for day in days))
        context = hrv_context(subject, access.is_self, local_today(subject.tz, now), span, rows)
    return render(request, "hrv.html", context, user=read.viewer, title="HRV")


def hrv_context(
    subject: User, is_self: bool, today: date, span: DateRange, rows: list[Row]
) -> dict[str, Any]:
    whose = "your" if is_self else "their"
    metric = metric_name(rows)
    hrv_nights = [row for row in rows if row["ln_hrv"] is not None]
    rhr_nights = [row for row in rows if row["resting_hr"] is not None]
    return {
        "is_self": is_self,
        "athlete_name": subject.name or subject.email,
        "user_id": None if is_self else subject.id,
        "start": span.start.isoformat(),
        "end": span.end.isoformat(),
        "span_text": day_span(span.start, span.end),
        "span_days": len(rows),
        "quick": quick_ranges(today, span, None if is_self else subject.id),
        "metric": metric,
        "hrv": hrv_figures(hrv_nights, rows, whose),
        "hrv_chart": hrv_chart(rows, metric, whose) if hrv_nights else None,
        "rhr": rhr_figures(rhr_nights),
        "rhr_chart": rhr_chart(rows) if rhr_nights else None,
        "table": [
            table_row(row)
            for row in reversed(rows)
            if row["ln_hrv"] is not None or row["resting_hr"] is not None
        ],
        "baseline_window": BASELINE_WINDOW,
        "baseline_min": BASELINE_MIN_READINGS,
        "whose": whose,
    }


def metric_name(rows: list[Row]) -> str:
    """What the HRV numbers are: ln rMSSD, or ln SDNN for a source that only gives SDNN."""
    kinds = {row["is_sdnn"] for row in rows if row["ln_hrv"] is not None}
    if kinds == {True}:
        return "ln SDNN"
    return "ln HRV" if kinds == {True, False} else "ln rMSSD"


def quick_ranges(today: date, span: DateRange, user_id: int | None) -> list[dict[str, Any]]:
    links = []
    for days, label in QUICK_RANGES:
        start = today - timedelta(days=days - 1)
        query = {"from": start.isoformat(), "to": today.isoformat()}
        if user_id is not None:
            query["userId"] = str(user_id)
        links.append(
            {
                "label": label,
                "href": "/hrv?" + urlencode(query),
                "current": (span.start, span.end) == (start, today),
            }
        )
    return links


def position(value: float, low: float, high: float) -> str:
    """Where a value lies against the normal range, in words."""
    if value < low:
        return "below"
    return "above" if value > high else "within"


def latest_with(rows: list[Row], *fields: str) -> Row | None:
    return next((row for row in reversed(rows) if all(row[field] is not None for field in fields)), None)


def hrv_figures(nights: list[Row], rows: list[Row], whose: str) -> dict[str, Any] | None:
    if not nights:
        return None
    latest = nights[-1]
    banded = latest_with(rows, "ln7", "normal_low", "normal_high")
    figures: dict[str, Any] = {
        "latest_day": short_day(latest["date"]),
        "latest_ln": f"{latest['ln_hrv']:.2f}",
        "latest_ms": f"{math.exp(latest['ln_hrv']):.0f}",
        "band": None,
    }
    if banded is not None:
        where = position(banded["ln7"], banded["normal_low"], banded["normal_high"])
        figures["band"] = {
            "day": short_day(banded["date"]),
            "ln7": f"{banded['ln7']:.2f}",
            "low": f"{banded['normal_low']:.2f}",
            "high": f"{banded['normal_high']:.2f}",
            "position": where,
            "sentence": f"The 7-day average is {where} {whose} normal range.",
        }
    return figures


def hrv_summary(rows: list[Row], metric: str, whose: str) -> str:
    nights = [row for row in rows if row["ln_hrv"] is not None]
    judged = [row for row in nights if row["normal_low"] is not None and row["normal_high"] is not None]
    counts = {"below": 0, "within": 0, "above": 0}
    for row in judged:
        counts[position(row["ln_hrv"], row["normal_low"], row["normal_high"])] += 1
    span = day_span(rows[0]["date"], rows[-1]["date"])
    sentence = f"{metric} was recorded on {len(nights)} of {len(rows)} nights ({span})"
    if not judged:
        return (
            f"{sentence}. There is no normal range to compare with yet: it needs at least "
            f"{BASELINE_MIN_READINGS} nights in the {BASELINE_WINDOW} days before a day."
        )
    sentence += (
        f": {counts['within']} inside {whose} normal range, {counts['below']} below it "
        f"and {counts['above']} above it"
    )
    if len(judged) < len(nights):
        sentence += f" ({len(nights) - len(judged)} before the range could be set)"
    banded = latest_with(rows, "ln7", "normal_low", "normal_high")
    if banded is not None:
        where = position(banded["ln7"], banded["normal_low"], banded["normal_high"])
        sentence += (
            f". On {short_day(banded['date'])} the 7-day average was {banded['ln7']:.2f}, {where} the range "
            f"of {banded['normal_low']:.2f} to {banded['normal_high']:.2f}"
        )
    return sentence + "."


def hrv_chart(rows: list[Row], metric: str, whose: str) -> Chart:
    days = [row["date"] for row in rows]
    return Chart(
        element_id="hrv-chart",
        label=f"Chart of {metric} for each night from {short_day(days[0])} to {short_day(days[-1])}, "
        f"with the 7-day average and {whose} normal range shaded",
        summary=hrv_summary(rows, metric, whose),
        days=days,
        y_label=f"{metric} (ln ms)",
        unit="",
        decimals=2,
        series=[
            ChartSeries(
                "Normal range, top", [rounded(row["normal_high"], 3) for row in rows], "band-edge", "band"
            ),
            ChartSeries(
                "Normal range, bottom", [rounded(row["normal_low"], 3) for row in rows], "band-edge", "band"
            ),
            ChartSeries("7-day average", [rounded(row["ln7"], 3) for row in rows], "line", "secondary"),
            ChartSeries(
                f"{metric}, each night", [rounded(row["ln_hrv"], 3) for row in rows], "points", "primary"
            ),
        ],
        counted=3,
        band=(0, 1),
        band_label="Normal range",
    )


def rhr_figures(nights: list[Row]) -> dict[str, Any] | None:
    if not nights:
        return None
    latest = nights[-1]
    baseline = latest["resting_hr_baseline"]
    return {
        "latest_day": short_day(latest["date"]),
        "latest": f"{latest['resting_hr']:.0f}",
        "baseline": None if baseline is None else f"{baseline:.0f}",
        "difference": None if baseline is None else f"{latest['resting_hr'] - baseline:+.0f}",
    }


def rhr_summary(rows: list[Row]) -> str:
    nights = [row for row in rows if row["resting_hr"] is not None]
    values = [row["resting_hr"] for row in nights]
    sentence = (
        f"Resting HR was recorded on {len(nights)} of {len(rows)} nights, between {min(values):.0f} and "
        f"{max(values):.0f} bpm"
    )
    latest = nights[-1]
    baseline = latest["resting_hr_baseline"]
    if baseline is None:
        return (
            f"{sentence}. There is no baseline to compare with yet: it needs at least "
            f"{BASELINE_MIN_READINGS} readings in the {BASELINE_WINDOW} days before a day."
        )
    return (
        f"{sentence}. On {short_day(latest['date'])} it was {latest['resting_hr']:.0f} bpm against a "
        f"{BASELINE_WINDOW}-day baseline of {baseline:.0f} bpm ({latest['resting_hr'] - baseline:+.0f} bpm)."
    )


def rhr_chart(rows: list[Row]) -> Chart:
    days = [row["date"] for row in rows]
    return Chart(
        element_id="rhr-chart",
        label=f"Line chart of resting heart rate for each night from {short_day(days[0])} to "
        f"{short_day(days[-1])}, with its {BASELINE_WINDOW}-day baseline",
        summary=rhr_summary(rows),
        days=days,
        y_label="Resting HR (bpm)",
        unit="bpm",
        decimals=0,
        series=[
            ChartSeries(
                f"Baseline ({BASELINE_WINDOW}-day mean)",
                [rounded(row["resting_hr_baseline"], 1) for row in rows],
                "reference",
                "secondary",
            ),
            ChartSeries("Resting HR", [rounded(row["resting_hr"], 1) for row in rows], "line", "primary"),
        ],
        counted=1,
    )


def _fixed(value: float | None, places: int) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def table_row(row: Row) -> dict[str, str]:
    low, high = row["normal_low"], row["normal_high"]
    return {
        "day": short_day(row["date"]),
        "ln": _fixed(row["ln_hrv"], 2),
        "ln7": _fixed(row["ln7"], 2),
        "range": "—" if low is None or high is None else f"{low:.2f}–{high:.2f}",
        "rhr": _fixed(row["resting_hr"], 0),
        "baseline": _fixed(row["resting_hr_baseline"], 0),
    }
