"""A team's plan adherence for its coaches: how many planned sessions each athlete kept, week by
week, and what became of readiness adjustments (accepted, reverted, undecided, or none proposed).

The figures are the API's (``GET /api/v1/teams/{teamId}/adherence``): that route itself runs here
with the session cookie as the reader — one policy statement for the team, only athletes who
share training counted, one audit INSERT for them — so the page shows exactly what the API
answers. The athletes who do not share training are named as not counted, never as 0 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from starlette.responses import Response

from perfhub.auth.models import User
from perfhub.core.dates import local_today
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.plans.adherence import DURATION_TOLERANCE, GROUPS, RPE_CEILING
from perfhub.plans.adherence_routes import TallyOut, TeamAdherenceOut, WeekOut, team_adherence
from perfhub.privacy.deps import TeamRead, TeamReadRequest
from perfhub.teams import queries
from perfhub.web.deps import session_user
from perfhub.web.routes._charts import ChartSeries, day_span, short_day
from perfhub.web.routes._plan_view import DayChart
from perfhub.web.templating import render

router = APIRouter()

TeamAdherencePageRead = Annotated[TeamReadRequest, TeamRead(signals=("training",), reader=session_user)]
DayQuery = Annotated[str | None, Query(max_length=10)]

GROUP_WORDS = {
    "accepted": ("Accepted", "an adjustment was proposed and accepted: kept means done as adjusted"),
    "reverted": ("Reverted", "an adjustment was proposed and reverted: kept means done as planned"),
    "undecided": ("Undecided", "an adjustment was proposed and nobody decided: kept means done as planned"),
    "unadjusted": ("Unadjusted", "no adjustment was proposed: kept means done as planned"),
}
QUICK_WEEKS = (4, 8, 12)
NONE = "—"


def percent(rate: float | None) -> str:
    return NONE if rate is None else f"{round(rate * 100)}%"


def tally_words(tally: TallyOut) -> str:
    """``3 of 4 (75%)``; ``none planned``."""
    if tally.planned == 0:
        return "none planned"
    return f"{tally.kept} of {tally.planned} ({percent(tally.rate)})"


def week_start(week: str) -> date:
    """The Monday of ISO week ``2026-W10``."""
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def week_words(week: str) -> str:
    monday = week_start(week)
    return f"{week[-3:]} (from {short_day(monday)})"


def _rate_values(weeks: Sequence[WeekOut], group: str | None) -> list[float | None]:
    values: list[float | None] = []
    for week in weeks:
        tally = week.overall if group is None else getattr(week.by_group, group)
        values.append(None if tally.rate is None else round(tally.rate * 100, 1))
    return values


def weekly_chart(answer: TeamAdherenceOut) -> DayChart | None:
    """The weekly rate in all, for sessions whose adjustment was accepted, and for sessions no
    adjustment was proposed for; None with nothing counted."""
    weeks = answer.by_week
    if not weeks:
        return None
    accepted, unadjusted = answer.by_group.accepted, answer.by_group.unadjusted
    summary = (
        f"Over {len(weeks)} week{'s' if len(weeks) != 1 else ''}, {tally_words(answer.overall)} planned "
        f"sessions were kept. Sessions with an accepted adjustment: {tally_words(accepted)}; sessions "
        f"without an adjustment: {tally_words(unadjusted)}."
    )
    return DayChart(
        element_id="adherence-chart",
        label=(
            "Line chart of the share of planned sessions kept each week, in all, with an accepted "
            f"adjustment, and without an adjustment, from the week of {short_day(week_start(weeks[0].week))} "
            f"to the week of {short_day(week_start(weeks[-1].week))}"
        ),
        summary=summary,
        days=[week_start(week.week) for week in weeks],
        y_label="Sessions kept (%)",
        unit="%",
        decimals=0,
        series=[
            ChartSeries("All sessions", _rate_values(weeks, None), "line", "secondary"),
            ChartSeries("Accepted adjustment", _rate_values(weeks, "accepted"), "line", "primary"),
            ChartSeries("Unadjusted", _rate_values(weeks, "unadjusted"), "line", "moderate"),
        ],
        counted=0,
        y_floor=0.0,
        y_ceiling=100.0,
        x_label="Week (from its Monday)",
        x_name="Week of",
    )


def groups_view(by_group: Any) -> list[dict[str, str]]:
    return [
        {
            "key": group,
            "name": GROUP_WORDS[group][0],
            "means": GROUP_WORDS[group][1],
            "words": tally_words(getattr(by_group, group)),
            "planned": str(getattr(by_group, group).planned),
        }
        for group in GROUPS
    ]


@router.get("/teams/{teamId}/adherence")
def adherence_page(
    request: Request,
    uow: UowDep,
    read: TeamAdherencePageRead,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: DayQuery = None,
) -> Response:
    """``?from=&to=`` as the API takes them (days of your calendar; default the last 30)."""
    answer = team_adherence(uow, read, from_, to)
    with uow() as session:
        found = queries.relation_to(session, read.viewer, read.team_id)
        if found is None:
            raise NotFound(f"no team with id {read.team_id}")
        hidden_names = sorted(
            (
                name or email
                for name, email in session.execute(
                    select(User.name, User.email).where(User.id.in_(answer.hidden))
                )
            )
            if answer.hidden
            else [],
            key=str.casefold,
        )
    today = local_today(read.viewer.tz, request.app.state.runtime.clock())
    base = f"/teams/{read.team_id}/adherence"
    weeks = [week.week for week in answer.by_week]
    return render(
        request,
        "adherence.html",
        {
            "team_id": read.team_id,
            "team_name": found[0].name,
            "action": base,
            "start": answer.from_.isoformat(),
            "end": answer.to.isoformat(),
            "span_text": day_span(answer.from_, answer.to),
            "quick": [
                {
                    "label": f"{count} weeks",
                    "href": base
                    + "?"
                    + urlencode(
                        {"from": (today - timedelta(days=7 * count - 1)).isoformat(), "to": today.isoformat()}
                    ),
                    "current": (answer.from_, answer.to) == (today - timedelta(days=7 * count - 1), today),
                }
                for count in QUICK_WEEKS
            ],
            "overall": tally_words(answer.overall),
            "overall_rate": percent(answer.overall.rate),
            "groups": groups_view(answer.by_group),
            "chart": weekly_chart(answer),
            "weeks": [
                {
                    "label": week_words(week.week),
                    "overall": tally_words(week.overall),
                    "groups": [tally_words(getattr(week.by_group, group)) for group in GROUPS],
                }
                for week in answer.by_week
            ],
            "week_labels": [week_words(week) for week in weeks],
            "athletes": [
                {
                    "id": athlete.athlete_id,
                    "name": athlete.name,
                    "overall": tally_words(athlete.overall),
                    "groups": [tally_words(getattr(athlete.by_group, group)) for group in GROUPS],
                    "by_week": {
                        week.week: NONE if week.overall.planned == 0 else percent(week.overall.rate)
                        for week in athlete.by_week
                    },
                }
                for athlete in answer.athletes
            ],
            "weeks_keys": weeks,
            "group_names": [GROUP_WORDS[group][0] for group in GROUPS],
            "hidden_names": hidden_names,
            "tolerance_pct": round(float(DURATION_TOLERANCE) * 100),
            "ceilings": {kind: f"{value:g}" for kind, value in RPE_CEILING.items()},
        },
        user=read.viewer,
        title=f"{found[0].name} · adherence",
    )
