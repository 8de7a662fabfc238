"""Adherence to the plan: an athlete's own figures, and a team's for its coaches (docs/plans.md).

Adherence is the ``training`` signal. The athlete reads their own (a coach: ``userId`` of an
athlete sharing training with a team they run). A team's figures are read by its coaches and
admins, decided for the whole team in one policy statement; only the athletes who share training
are counted and listed, the others are named in ``hidden``, and every athlete listed gets one
audit row, all written in one INSERT in the read's transaction. A team the caller has no part in
is 404, and an athlete of the team gets 403.

Each athlete's sessions count once their day is over in the athlete's own calendar; ``from`` and
``to`` (default: the 30 days to today) are days of the reader's calendar for a team, of the
athlete's own for one athlete.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import date_range, local_today
from perfhub.core.db import one_of
from perfhub.core.deps import FromQuery, ToQuery, UowDep
from perfhub.plans.adherence import Completion, SessionFacts, figures
from perfhub.plans.models import PlannedSession, SessionAdjustment
from perfhub.plans.service import final_plan
from perfhub.privacy.deps import AthleteRead, ReadRequest, TeamRead, TeamReadRequest
from perfhub.privacy.policy import audit_team_read
from perfhub.training.models import CompletedSession

router = APIRouter(tags=["plans"])

TRAINING = ("training",)
AdherenceRead = Annotated[ReadRequest, AthleteRead(signals=TRAINING, dated=True)]
TeamAdherenceRead = Annotated[TeamReadRequest, TeamRead(signals=TRAINING)]


# --------------------------------------------------------------------------------------------
# The answers
# --------------------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class TallyOut(_Out):
    planned: int = Field(description="planned sessions dated before the athlete's local today")
    kept: int = Field(description="of them, done as finally decided")
    rate: float | None = Field(description="kept / planned, 0–1; null when nothing was planned")


class GroupsOut(_Out):
    accepted: TallyOut = Field(description="sessions whose adjustment was accepted")
    reverted: TallyOut = Field(description="sessions whose adjustment was reverted (the plan as written)")
    undecided: TallyOut = Field(description="sessions with a proposal nobody decided on")
    unadjusted: TallyOut = Field(description="sessions no adjustment was proposed for")


class WeekOut(_Out):
    week: str = Field(description="ISO week, e.g. 2026-W48")
    overall: TallyOut
    by_group: GroupsOut = Field(alias="byGroup")


class _Figures(_Out):
    overall: TallyOut
    by_group: GroupsOut = Field(alias="byGroup")
    by_week: list[WeekOut] = Field(alias="byWeek", description="ISO weeks with sessions counted, in order")


class AdherenceOut(_Figures):
    from_: date = Field(alias="from")
    to: date
    hidden: list[int] = Field(default_factory=list, description="always empty for one athlete")


class AthleteAdherenceOut(_Figures):
    athlete_id: int = Field(alias="athleteId")
    name: str


class TeamAdherenceOut(AdherenceOut):
    athletes: list[AthleteAdherenceOut] = Field(description="the athletes sharing training, by name")
    hidden: list[int] = Field(
        default_factory=list, description="ids of the team's athletes who do not share training with you"
    )


# --------------------------------------------------------------------------------------------
# Reading the sessions
# --------------------------------------------------------------------------------------------


def facts_of(
    row: PlannedSession, adjustment: SessionAdjustment | None, completion: Completion | None
) -> SessionFacts:
    """A stored session as adherence sees it: judged by the session as finally decided."""
    final = final_plan(row, adjustment)
    return SessionFacts(
        athlete_id=row.athlete_id,
        date=row.date,
        final_type=str(final["type"]),
        final_duration_min=float(final["durationMin"]),
        status=None if adjustment is None else adjustment.status,
        completion=completion,
    )


def read_facts(
    session: Session, athlete_ids: Collection[int], start: date, end: date
) -> tuple[list[SessionFacts], set[tuple[int, date]]]:
    """The planned sessions of ``athlete_ids`` from ``start`` to ``end`` with their adjustments
    and linked completions, and the days any session was logged: two statements, whatever the
    number of athletes."""
    if not athlete_ids or end < start:
        return [], set()
    dialect = session.get_bind().dialect.name
    ids = list(athlete_ids)
    rows = session.execute(
        select(PlannedSession, SessionAdjustment, CompletedSession.duration_min, CompletedSession.rpe)
        .outerjoin(SessionAdjustment, SessionAdjustment.session_id == PlannedSession.id)
        .outerjoin(CompletedSession, CompletedSession.planned_session_id == PlannedSession.id)
        .where(
            one_of(PlannedSession.athlete_id, ids, dialect),
            PlannedSession.date >= start,
            PlannedSession.date <= end,
        )
    )
    facts = [
        facts_of(row, adjustment, None if minutes is None else Completion(float(minutes), float(rpe)))
        for row, adjustment, minutes, rpe in rows
    ]
    logged = session.execute(
        select(CompletedSession.athlete_id, CompletedSession.date)
        .where(
            one_of(CompletedSession.athlete_id, ids, dialect),
            CompletedSession.date >= start,
            CompletedSession.date <= end,
        )
        .distinct()
    )
    return facts, {(athlete, day) for athlete, day in logged}


# --------------------------------------------------------------------------------------------
# The endpoints
# --------------------------------------------------------------------------------------------


@router.get("/plan/adherence", response_model=AdherenceOut, response_model_by_alias=True)
def plan_adherence(uow: UowDep, read: AdherenceRead) -> AdherenceOut:
    """Planned sessions kept from `from` to `to` (default: the last 30 days): overall, by
    adjustment (accepted, reverted, undecided, unadjusted) and by ISO week. A session counts
    once its day is over; it is kept when done as finally decided (docs/plans.md#adherence)."""
    with uow() as session:
        access, span = read.authorize_range(session)
        athlete = access.subject
        facts, logged = read_facts(session, [athlete.id], span.start, span.end)
        total, _ = figures(facts, logged, {athlete.id: local_today(athlete.tz)}, span.start, span.end)
        return AdherenceOut.model_validate({"from": span.start, "to": span.end, "hidden": [], **total.out()})


@router.get("/teams/{teamId}/adherence", response_model=TeamAdherenceOut, response_model_by_alias=True)
def team_adherence(
    uow: UowDep, read: TeamAdherenceRead, from_: str | None = FromQuery, to: str | None = ToQuery
) -> TeamAdherenceOut:
    """The team's adherence from `from` to `to` (days of your calendar; default the last 30):
    in all, per athlete and per ISO week, each by adjustment. Athletes who do not share training
    with you are not counted and are named in `hidden`."""
    now = datetime.now(UTC)
    with uow() as session:
        access = read.authorize(session)
        span = date_range(from_, to, local_today(read.viewer.tz, now))
        counted = [athlete for athlete, granted in access.grants.items() if "training" in granted]
        hidden = sorted(athlete for athlete, granted in access.grants.items() if "training" not in granted)
        people = (
            session.execute(
                select(User.id, User.name, User.email, User.tz).where(
                    one_of(User.id, counted, session.get_bind().dialect.name)
                )
            ).all()
            if counted
            else []
        )
        todays = {user_id: local_today(tz, now) for user_id, _, _, tz in people}
        facts, logged = read_facts(session, list(todays), span.start, span.end)
        total, per_athlete = figures(facts, logged, todays, span.start, span.end)
        names = {user_id: name or email for user_id, name, email, _ in people}
        order = sorted(names, key=lambda user_id: (names[user_id].casefold(), names[user_id], user_id))
        audit_team_read(session, read.viewer, {athlete: TRAINING for athlete in order}, read.path)
        return TeamAdherenceOut.model_validate(
            {
                "from": span.start,
                "to": span.end,
                **total.out(),
                "athletes": [
                    {"athleteId": athlete, "name": names[athlete], **per_athlete[athlete].out()}
                    for athlete in order
                ],
                "hidden": hidden,
            }
        )
