"""Weekly insights over HTTP: an athlete's own week, and a team's for its coaches (docs/weekly.md).

The athlete reads their own summaries. A team's are read by its coaches and admins, decided for
the whole team in one policy statement (an athlete of the team: 403; anyone else: 404); each
athlete's figures and sentences are cut to the signals they share, the others are null and named
in ``hidden``, and every athlete something was disclosed of gets one audit row, all written in
one INSERT in the read's transaction.

A week is asked for as ``YYYY-Www`` (ISO); by default the latest week that is due (over, and past
06:00 on the Monday after it) in the reader's own zone. A due week not stored yet is made by the
read that asks for it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from perfhub.core.deps import UowDep
from perfhub.insights.presenter import own_week, parse_week_query, team_week
from perfhub.insights.sentences import READINESS_DROP
from perfhub.privacy.deps import AthleteRead, ReadRequest, TeamRead, TeamReadRequest
from perfhub.privacy.policy import audit_team_read
from perfhub.teams.schemas import SIGNALS

router = APIRouter(tags=["insights"])

OwnWeekRead = Annotated[ReadRequest, AthleteRead(signals=SIGNALS, own=True)]
TeamWeekRead = Annotated[TeamReadRequest, TeamRead(signals=SIGNALS)]
WeekQuery = Query(
    max_length=20,
    description="an ISO week, YYYY-Www (default: the latest week that is over, from 06:00 on the "
    "Monday after it in the athlete's own time zone)",
)


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class SentenceOut(_Out):
    rule: str = Field(description="the rule that chose it (docs/weekly.md#rules)")
    text: str
    signals: list[str] = Field(description="the signals its numbers come from")
    cites: dict[str, Any] = Field(description="the figures it cites, by name")


class WeeklyOut(_Out):
    week: str = Field(description="ISO week, YYYY-Www")
    from_: date = Field(alias="from", description="its Monday, in the athlete's calendar")
    to: date = Field(description="its Sunday")
    computed_at: datetime = Field(alias="computedAt")
    figures: dict[str, Any] = Field(
        description="readiness, hrv, restingHr, sleep, load, adherence (docs/weekly.md#figures)"
    )
    sentences: list[SentenceOut] = Field(description="one to three, in the rules' order")


class AthleteWeekOut(_Out):
    athlete_id: int = Field(alias="athleteId")
    name: str
    status: str = Field(description="ready | pending (the week is not over in the athlete's zone yet)")
    computed_at: datetime | None = Field(alias="computedAt")
    figures: dict[str, Any] | None = Field(description="each group null when its signal is hidden")
    sentences: list[SentenceOut] = Field(description="the sentences whose signals the athlete shares")
    trended_down: bool | None = Field(
        alias="trendedDown", description=f"readiness fell {READINESS_DROP:g} points or more (null: unknown)"
    )
    why: list[str] = Field(description="when it fell: the other rules that fired (the reasons shown)")
    flags: dict[str, int] = Field(description="days each visible flag was raised")
    hidden: list[str] = Field(description="signals the athlete does not share with you")


class TeamWeeklyOut(_Out):
    team_id: int = Field(alias="teamId")
    week: str
    athletes: list[AthleteWeekOut] = Field(description="the team's athletes, by name")


@router.get("/insights/weekly", response_model=WeeklyOut, response_model_by_alias=True)
def weekly(uow: UowDep, read: OwnWeekRead, week: Annotated[str | None, WeekQuery] = None) -> WeeklyOut:
    """Your weekly summary: readiness trend and band days, HRV against the normal range, resting
    HR, sleep and sleep debt, training load against the previous four weeks, adherence, and one to
    three sentences chosen by rules from them. 404 for a week that is not over yet."""
    now = datetime.now(UTC)
    with uow() as session:
        user = read.authorize(session).subject
        return WeeklyOut.model_validate(own_week(session, user, parse_week_query(week, user.tz, now), now))


@router.get("/teams/{teamId}/insights/weekly", response_model=TeamWeeklyOut, response_model_by_alias=True)
def team_weekly(
    uow: UowDep, read: TeamWeekRead, week: Annotated[str | None, WeekQuery] = None
) -> TeamWeeklyOut:
    """Each athlete's weekly summary as they share it with you: who trended down and why, the
    flags raised, adherence. Signals not shared are null and named in `hidden`; an athlete whose
    week is not over yet in their own zone is `pending`. `week` defaults to the latest week that
    is over in your zone."""
    now = datetime.now(UTC)
    with uow() as session:
        access = read.authorize(session)
        found = team_week(session, access, parse_week_query(week, read.viewer.tz, now), now)
        audit_team_read(session, read.viewer, found.disclosed, read.path)
        return TeamWeeklyOut.model_validate(
            {"teamId": read.team_id, "week": found.week, "athletes": found.athletes}
        )
