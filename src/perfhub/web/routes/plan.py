"""The plan pages: an athlete's planned sessions with their readiness-guided adjustments, what
was done, and the training load — for the athlete at ``/plan`` and for a coach of their team at
``/teams/{teamId}/athletes/{athleteId}/plan``.

Both read what ``GET /api/v1/plan/sessions`` answers the same reader
(:func:`perfhub.plans.presenter.sessions_out`): each adjustment's rationale is worded through the
privacy policy, so a coach sees readiness values only as far as the athlete shares them. Accept,
revert and completion are the plan API's services behind the same policy, as form posts with
their CSRF token that go back to the session on the page (``#session-{id}``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from perfhub.auth.models import User
from perfhub.core.bounds import MAX_ID
from perfhub.core.dates import local_today
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.plans import service
from perfhub.plans.models import PlannedSession
from perfhub.privacy.deps import AthleteRead, ReadRequest, RecordRead, RecordReadRequest
from perfhub.privacy.policy import Access, authorize_read
from perfhub.teams import queries as team_queries
from perfhub.training.schemas import MAX_DURATION_MIN, CompletedSessionIn, CompletionIn
from perfhub.training.service import record_planned, record_unplanned
from perfhub.web.deps import CsrfChecked, PageRead, session_user
from perfhub.web.routes._charts import require_athlete
from perfhub.web.routes._plan_view import (
    FormProblem,
    plan_context,
)
from perfhub.web.security import finish_page
from perfhub.web.templating import render

router = APIRouter()

TRAINING = ("training",)

OwnPlanRead = Annotated[ReadRequest, PageRead(signals=TRAINING, own=True)]
# One member of a team, through that team, as the coach's pages read them.
MemberPlanRead = Annotated[ReadRequest, AthleteRead(signals=TRAINING, in_team=True, reader=session_user)]
# One planned session, whoever's it is: the policy decides on its owner (404 unknown, 403 unshared).
SessionPageRead = Annotated[
    RecordReadRequest,
    RecordRead(
        TRAINING, kind="planned session", owner=service.session_owner, param="sessionId", reader=session_user
    ),
]
SessionId = Annotated[int, Path(alias="sessionId", gt=0, le=MAX_ID)]
FormText = Annotated[str, Form(max_length=100)]


# --------------------------------------------------------------------------------------------
# The athlete's page
# --------------------------------------------------------------------------------------------


@router.get("/plan")
def plan_page(request: Request, uow: UowDep, read: OwnPlanRead) -> Response:
    """The athlete's sessions from two weeks back to two weeks ahead, and their training load."""
    return _athlete_page(request, uow, read.viewer, read.authorize)


def _athlete_page(
    request: Request,
    uow: UowDep,
    viewer: User,
    authorize: Callable[[Session], Access],
    problem: FormProblem | None = None,
) -> Response:
    now = request.app.state.runtime.clock()
    with uow() as session:
        access = authorize(session)
        require_athlete(access.subject, "training plan")
        today = local_today(access.subject.tz, now)
        context = {"plan": plan_context(session, access, today, base="/plan", problem=problem)}
    status = 422 if problem else 200
    return render(request, "plan.html", context, user=viewer, title="Plan", status_code=status)


def _own_plan_again(request: Request, uow: UowDep, viewer: User, problem: FormProblem) -> Response:
    """The athlete's page again with a refused form's words: the same read as ``GET /plan``."""

    def own(session: Session) -> Access:
        return authorize_read(session, viewer, viewer.id, TRAINING, request.url.path)

    return _athlete_page(request, uow, viewer, own, problem)


def _back(request: Request, target: str) -> Response:
    return finish_page(request, RedirectResponse(target, status_code=303))


def _own_session(session: Session, read: RecordReadRequest) -> tuple[Access, PlannedSession]:
    """The session behind ``/plan/sessions/{id}``: the policy decides, and these forms act only
    on the reader's own plan (a coach has the team's paths), so anyone else's is 404."""
    access = read.authorize(session)
    row = session.get(PlannedSession, read.record_id)
    if row is None or not access.is_self:
        raise NotFound(f"no planned session with id {read.record_id} in your plan")
    return access, row


def _decide_own(request: Request, uow: UowDep, read: RecordReadRequest, decision: str) -> Response:
    with uow() as session:
        access, row = _own_session(session, read)
        service.decide(session, access.viewer, row, decision)
    return _back(request, f"/plan#session-{read.record_id}")


@router.post("/plan/sessions/{sessionId}/accept", dependencies=[CsrfChecked])
def accept_own(request: Request, uow: UowDep, read: SessionPageRead) -> Response:
    return _decide_own(request, uow, read, "accepted")


@router.post("/plan/sessions/{sessionId}/revert", dependencies=[CsrfChecked])
def revert_own(request: Request, uow: UowDep, read: SessionPageRead) -> Response:
    return _decide_own(request, uow, read, "reverted")


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _minutes_problem(value: float | None) -> str | None:
    if value is None:
        return "Enter the minutes as a number, for example 45."
    if not 0 < value <= MAX_DURATION_MIN:
        return f"Minutes must be more than 0 and at most {MAX_DURATION_MIN}."
    return None


def _rpe_problem(value: float | None) -> str | None:
    if value is None or not 0 <= value <= 10:
        return "RPE is a number from 0 (rest) to 10 (maximal effort)."
    return None


@router.post("/plan/sessions/{sessionId}/complete", dependencies=[CsrfChecked])
def complete_own(
    request: Request, uow: UowDep, read: SessionPageRead, minutes: FormText = "", rpe: FormText = ""
) -> Response:
    """Say a planned session of today or earlier was done (or correct it): minutes and session RPE."""
    duration, effort = _number(minutes), _number(rpe)
    errors = {
        key: problem
        for key, problem in (("minutes", _minutes_problem(duration)), ("rpe", _rpe_problem(effort)))
        if problem
    }
    now = request.app.state.runtime.clock()
    with uow() as session:
        access, row = _own_session(session, read)
        if row.date > local_today(access.subject.tz, now):
            errors["minutes"] = "This session is still ahead: mark it done on its day or after."
        if not errors and duration is not None and effort is not None:
            body = CompletionIn(duration_min=duration, rpe=effort)
            record_planned(
                session,
                row.athlete_id,
                access.viewer,
                row.id,
                row.date,
                row.sport,
                body.duration_min,
                body.rpe,
            )
    if errors:
        values = {"minutes": minutes, "rpe": rpe}
        return _own_plan_again(request, uow, read.viewer, FormProblem(str(read.record_id), values, errors))
    return _back(request, f"/plan#session-{read.record_id}")


@router.post("/plan/unplanned", dependencies=[CsrfChecked])
def log_unplanned(
    request: Request,
    uow: UowDep,
    own: OwnPlanRead,
    day: Annotated[str, Form(alias="date", max_length=10)] = "",
    sport: FormText = "",
    minutes: FormText = "",
    rpe: FormText = "",
) -> Response:
    """A session done without a plan, today or earlier: day, sport, minutes and session RPE."""
    duration, effort = _number(minutes), _number(rpe)
    today = local_today(own.viewer.tz, request.app.state.runtime.clock())
    errors: dict[str, str] = {}
    try:
        parsed_day: date | None = date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        parsed_day = None
    if parsed_day is None:
        errors["date"] = "Choose the day of the session."
    elif parsed_day > today:
        errors["date"] = "A session you did is today or earlier."
    if not sport.strip():
        errors["sport"] = "Say which sport, for example run or bike."
    elif len(sport.strip()) > 60:
        errors["sport"] = "The sport is at most 60 characters."
    for key, problem in (("minutes", _minutes_problem(duration)), ("rpe", _rpe_problem(effort))):
        if problem:
            errors[key] = problem
    body: CompletedSessionIn | None = None
    if not errors:
        try:
            body = CompletedSessionIn(date=parsed_day, sport=sport, duration_min=duration, rpe=effort)
        except ValidationError:
            errors["sport"] = "Use letters, numbers and spaces for the sport."
    if body is None:
        values = {"date": day, "sport": sport, "minutes": minutes, "rpe": rpe}
        return _athlete_page(
            request, uow, own.viewer, own.authorize, FormProblem("unplanned", values, errors)
        )
    with uow() as session:
        me = own.authorize(session).subject
        record_unplanned(session, me, me, body.date, body.sport, body.duration_min, body.rpe)
    return _back(request, "/plan#done-unplanned")


# --------------------------------------------------------------------------------------------
# A coach's view of one athlete
# --------------------------------------------------------------------------------------------


@router.get("/teams/{teamId}/athletes/{athleteId}/plan")
def member_plan_page(request: Request, uow: UowDep, read: MemberPlanRead) -> Response:
    """One member's plan as the team's coach sees it: what the athlete shares decides how much of
    each rationale shows; an athlete who does not share training is a 403 saying so."""
    now = request.app.state.runtime.clock()
    assert read.team_id is not None  # an in-team read
    base = f"/teams/{read.team_id}/athletes/{read.subject_id}/plan"
    with uow() as session:
        access = read.authorize(session, partial=True)
        found = team_queries.relation_to(session, read.viewer, read.team_id)
        if found is None:
            raise NotFound(f"no team with id {read.team_id}")
        subject = access.subject
        require_athlete(subject, "training plan")
        name = subject.name or subject.email
        shared = "training" in access.signals
        plan = plan_context(session, access, local_today(subject.tz, now), base=base) if shared else None
    context = {
        "plan": plan,
        "name": name,
        "is_self": access.is_self,
        "team_id": read.team_id,
        "team_name": found[0].name,
        "athlete_id": subject.id,
        "hidden_words": f"Hidden: {name} does not share training with you, so their plan is not shown.",
    }
    return render(
        request,
        "plan_member.html",
        context,
        user=read.viewer,
        title=f"{name} · plan",
        status_code=200 if shared else 403,
    )


def _decide_member(
    request: Request, uow: UowDep, read: ReadRequest, session_id: int, decision: str
) -> Response:
    assert read.team_id is not None
    with uow() as session:
        access = read.authorize(session)
        row = session.get(PlannedSession, session_id)
        if row is None or row.athlete_id != access.subject.id:
            raise NotFound(f"no planned session with id {session_id} in this athlete's plan")
        service.decide(session, access.viewer, row, decision)
    return _back(request, f"/teams/{read.team_id}/athletes/{read.subject_id}/plan#session-{session_id}")


@router.post(
    "/teams/{teamId}/athletes/{athleteId}/plan/sessions/{sessionId}/accept", dependencies=[CsrfChecked]
)
def accept_member(request: Request, uow: UowDep, read: MemberPlanRead, session_id: SessionId) -> Response:
    return _decide_member(request, uow, read, session_id, "accepted")


@router.post(
    "/teams/{teamId}/athletes/{athleteId}/plan/sessions/{sessionId}/revert", dependencies=[CsrfChecked]
)
def revert_member(request: Request, uow: UowDep, read: MemberPlanRead, session_id: SessionId) -> Response:
    return _decide_member(request, uow, read, session_id, "reverted")
