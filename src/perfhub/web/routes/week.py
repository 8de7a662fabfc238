"""The weekly pages: an athlete's own week, and a team's week for its coaches (docs/weekly.md).

They show what ``GET /api/v1/insights/weekly`` and ``GET /api/v1/teams/{teamId}/insights/weekly``
answer the same person (:mod:`perfhub.insights.presenter`), under the same policy and audit, in
words, with a chart of the week's readiness.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from perfhub.core.deps import UowDep
from perfhub.insights.presenter import own_week, parse_week_query, team_week
from perfhub.insights.service import due
from perfhub.insights.weekly import iso_week, week_days
from perfhub.privacy.deps import ReadRequest, TeamRead, TeamReadRequest
from perfhub.privacy.policy import audit_team_read
from perfhub.readiness.engine import band_for
from perfhub.teams import queries
from perfhub.teams.schemas import SIGNALS
from perfhub.web.deps import PageRead, session_user
from perfhub.web.routes._charts import Chart, ChartSeries, day_span, hours_minutes, require_athlete, short_day
from perfhub.web.templating import render

router = APIRouter()

WeekPageRead = Annotated[ReadRequest, PageRead(own=True)]
TeamWeekPageRead = Annotated[TeamReadRequest, TeamRead(signals=SIGNALS, reader=session_user)]
WeekParam = Annotated[str | None, Query(max_length=20)]

SIGNAL_WORDS = {"hrv": "HRV", "sleep": "sleep", "readiness": "readiness", "training": "training"}
FLAG_WORDS = {
    "illness": "possible illness",
    "hrv_below_range": "HRV below range",
    "hrv_unusually_high": "HRV unusually high",
    "overreaching": "overreaching",
    "sleep_debt": "sleep debt",
    "load_spike": "load spike",
    "stale": "stale data",
    "calibrating": "calibrating",
    "no_recent_data": "no recent data",
}
RULE_WORDS = {
    "hrv_below_range": "HRV below range",
    "sleep_debt_rising": "sleep debt rising",
    "load_spike": "load spike",
    "resting_hr_up": "resting HR up",
    "adherence_low": "sessions missed",
}


@router.get("/week")
def week_page(request: Request, uow: UowDep, read: WeekPageRead, week: WeekParam = None) -> Response:
    """The viewer's own week: its sentences, a chart of its readiness and its figures."""
    now = request.app.state.runtime.clock()
    with uow() as session:
        user = read.authorize(session).subject
        require_athlete(user, "weeks")
        monday = parse_week_query(week, user.tz, now)
        summary = own_week(session, user, monday, now) if due(user.tz, monday, now) else None
    context = {
        **_week_nav(monday, "/week", due(user.tz, monday + timedelta(weeks=1), now)),
        "summary": None if summary is None else _own_view(summary),
        "chart": None if summary is None else _readiness_chart(summary["figures"], monday),
        "time_zone": user.tz,
    }
    return render(request, "week.html", context, user=read.viewer, title=f"Week {iso_week(monday)}")


@router.get("/teams/{teamId}/week")
def team_week_page(request: Request, uow: UowDep, read: TeamWeekPageRead, week: WeekParam = None) -> Response:
    """The team's week, one row per athlete as they share it: readiness and its change, who
    trended down and why, flags, adherence."""
    now = request.app.state.runtime.clock()
    with uow() as session:
        access = read.authorize(session)
        monday = parse_week_query(week, read.viewer.tz, now)
        found = team_week(session, access, monday, now)
        audit_team_read(session, read.viewer, found.disclosed, read.path)
        relation = queries.relation_to(session, read.viewer, read.team_id)
        team_name = "" if relation is None else relation[0].name
    base = f"/teams/{read.team_id}/week"
    context = {
        **_week_nav(monday, base, due(read.viewer.tz, monday + timedelta(weeks=1), now)),
        "team_id": read.team_id,
        "team_name": team_name,
        "athletes": [_athlete_view(entry, monday) for entry in found.athletes],
    }
    return render(request, "team_week.html", context, user=read.viewer, title=f"{team_name} · week")


def _week_nav(monday: date, base: str, next_due: bool) -> dict[str, Any]:
    sunday = monday + timedelta(days=6)
    return {
        "week": iso_week(monday),
        "span": day_span(monday, sunday),
        "previous_url": f"{base}?week={iso_week(monday - timedelta(weeks=1))}",
        "next_url": f"{base}?week={iso_week(monday + timedelta(weeks=1))}" if next_due else None,
    }


def _num(value: float | None, unit: str = "") -> str:
    return "no data" if value is None else f"{value:g}{unit}"


def _figure_lines(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """The week's figures in words, one (name, text) per group the reader may see."""
    lines: list[tuple[str, str]] = []
    r = figures.get("readiness")
    if r is not None:
        bands = ", ".join(f"{days} {band}" for band, days in r["bandDays"].items() if days)
        text = f"mean {_num(r['mean'])} over {r['scoredDays']} scored days"
        if r["previousMean"] is not None:
            text += f" (the week before {_num(r['previousMean'])}, change {r['change']:+g})"
        lines.append(("Readiness", text + (f"; days by band: {bands}" if bands else "")))
    h = figures.get("hrv")
    if h is not None:
        lines.append(("HRV", f"below the normal range on {h['belowRange']} of {h['days']} days with a range"))
    rhr = figures.get("restingHr")
    if rhr is not None:
        lines.append(
            (
                "Resting HR",
                f"mean {_num(rhr['mean'], ' bpm')} against a baseline of {_num(rhr['baselineMean'], ' bpm')}",
            )
        )
    s = figures.get("sleep")
    if s is not None:
        asleep = (
            "no nights"
            if s["meanMin"] is None
            else f"{hours_minutes(s['meanMin'])} a night over {s['nights']} nights"
        )
        trend = f"{s['debtCategory']}, {s['debtTrend'] or 'one day'}"
        debt = (
            "no sleep debt figure"
            if s["debtEndHours"] is None
            else f"sleep debt {s['debtStartHours']:g} h → {s['debtEndHours']:g} h ({trend})"
        )
        lines.append(("Sleep", f"{asleep}; {debt}"))
    g = figures.get("load")
    if g is not None:
        text = f"{_num(g['week'])} this week against {_num(g['previousMean'])} a week over the four before"
        lines.append(("Training load", text + (f" ({g['ratio']:g}×)" if g["ratio"] is not None else "")))
    a = figures.get("adherence")
    if a is not None:
        text = (
            "nothing planned" if not a["planned"] else f"kept {a['kept']} of {a['planned']} planned sessions"
        )
        lines.append(
            ("Adherence", text + (f" ({round(a['rate'] * 100)} %)" if a["rate"] is not None else ""))
        )
    return lines


def _own_view(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "sentences": [s["text"] for s in summary["sentences"]],
        "figures": _figure_lines(summary["figures"]),
        "days_with_data": summary["figures"]["daysWithData"],
    }


def _readiness_chart(
    figures: dict[str, Any], monday: date, element_id: str = "week-readiness"
) -> Chart | None:
    r = figures.get("readiness")
    if r is None:
        return None
    scores = {d["date"]: d["score"] for d in r["daily"]}
    days = week_days(monday)
    values = [scores.get(day.isoformat()) for day in days]
    series = [ChartSeries("Readiness", values, "bars", "primary")]
    if r["previousMean"] is not None:
        series.append(
            ChartSeries("The week before (mean)", [r["previousMean"]] * 7, "reference", "secondary")
        )
    scored = [(day, v) for day, v in zip(days, values, strict=True) if v is not None]
    summary = (
        "No scored days this week."
        if not scored
        else "Readiness by day: " + ", ".join(f"{short_day(day)} {v:g}" for day, v in scored) + "."
    )
    return Chart(
        element_id=element_id,
        label=f"Readiness each day of the week of {short_day(monday)}",
        summary=summary,
        days=days,
        y_label="Readiness (0–100)",
        unit="",
        decimals=0,
        series=series,
        y_floor=0,
        y_ceiling=100,
        x_label="Day",
        x_name="Day",
    )


# The team week's per-athlete chart: 7 day columns SPARK_STEP apart, scores from SPARK_FLOOR to
# 100 drawn into SPARK_HEIGHT (SVG user units; the CSS sizes it). The same scale for every
# athlete, so rows compare; scores below the floor (rare, and all `low`) sit on it.
SPARK_STEP = 10
SPARK_HEIGHT = 30
SPARK_FLOOR = 30
NORMAL_FROM = 65


def _sparkline(readiness: dict[str, Any], monday: date) -> dict[str, Any]:
    """The athlete's readiness day by day as a small line: a dot per scored day coloured by its
    band, lines joining consecutive scored days (a day without a score leaves a gap), and the
    same in words for screen readers."""

    def y_of(score: float) -> float:
        share = (max(score, SPARK_FLOOR) - SPARK_FLOOR) / (100 - SPARK_FLOOR)
        return round(SPARK_HEIGHT - 3 - share * (SPARK_HEIGHT - 6), 1)

    scores = {d["date"]: d["score"] for d in readiness["daily"]}
    dots, runs, words = [], [], []
    run: list[str] = []
    for k, day in enumerate(week_days(monday)):
        score = scores.get(day.isoformat())
        if score is None:
            runs.append(run)
            run = []
            continue
        x = 5 + k * SPARK_STEP
        y = y_of(score)
        dots.append({"x": x, "y": y, "band": band_for(score)})
        run.append(f"{x},{y}")
        words.append(f"{short_day(day)} {score:g}")
    runs.append(run)
    return {
        "width": 7 * SPARK_STEP,
        "height": SPARK_HEIGHT,
        "normal_from": y_of(NORMAL_FROM),  # a dashed line where `normal` begins
        "dots": dots,
        "lines": [" ".join(points) for points in runs if len(points) > 1],
        "label": "Readiness by day: " + (", ".join(words) if words else "no scored day") + ".",
    }


def _athlete_view(entry: dict[str, Any], monday: date) -> dict[str, Any]:
    figures = entry["figures"] or {}
    readiness = figures.get("readiness")
    adherence = figures.get("adherence")
    mean = None if readiness is None else readiness["mean"]
    return {
        "name": entry["name"],
        "status": entry["status"],
        "mean": mean,
        "band": None if mean is None else band_for(mean),
        "spark": None if readiness is None or mean is None else _sparkline(readiness, monday),
        "change": None if readiness is None or readiness["change"] is None else f"{readiness['change']:+g}",
        "down": entry["trendedDown"],
        "why": [RULE_WORDS.get(rule, rule) for rule in entry["why"]],
        "flags": [f"{FLAG_WORDS.get(code, code)} ({days} d)" for code, days in entry["flags"].items()],
        "adherence": None
        if adherence is None or adherence["rate"] is None
        else f"{adherence['kept']} of {adherence['planned']}",
        "sentences": [s["text"] for s in entry["sentences"]],
        "hidden": [SIGNAL_WORDS.get(signal, signal) for signal in entry["hidden"]],
        "readiness_hidden": "readiness" in entry["hidden"],
        "training_hidden": "training" in entry["hidden"],
    }
