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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from perfhub.auth.models import User
from perfhub.core.bounds import MAX_ID
from perfhub.core.dates import local_today
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.plans import service
from perfhub.plans.models import PlannedSession
from perfhub.plans.presenter import sessions_between, sessions_out
from perfhub.plans.rationale import intensity_words
from perfhub.plans.schemas import AdjustmentOut, SessionOut
from perfhub.privacy.deps import AthleteRead, ReadRequest, RecordRead, RecordReadRequest
from perfhub.privacy.policy import Access, authorize_read
from perfhub.teams import queries as team_queries
from perfhub.training.load import ACUTE_DAYS, CTL_DAYS, LOAD_MIN_HISTORY_DAYS, load_series
from perfhub.training.models import CompletedSession
from perfhub.training.queries import completed_between, daily_loads
from perfhub.training.schemas import MAX_DURATION_MIN, CompletedSessionIn, CompletionIn, CompletionOut
from perfhub.training.service import record_planned, record_unplanned
from perfhub.wearables.vendors.registry import DISPLAY_NAMES
from perfhub.web.deps import CsrfChecked, PageRead, session_user
from perfhub.web.routes._charts import Chart, ChartSeries, long_day, require_athlete, short_day
from perfhub.web.security import finish_page
from perfhub.web.templating import render

router = APIRouter()

TRAINING = ("training",)
BACK_DAYS = AHEAD_DAYS = 14
LOAD_DAYS = 90

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
# Words
# --------------------------------------------------------------------------------------------

TYPE_WORDS = {"easy": "Easy", "moderate": "Moderate", "hard": "Hard", "rest": "Rest"}
FIELD_WORDS = {
    "type": "Type",
    "durationMin": "Duration",
    "intensity": "Intensity",
    "plannedLoad": "Planned load",
}
STATUS_WORDS = {"proposed": "Proposed", "accepted": "Accepted", "reverted": "Reverted"}
DECISION_WORDS = {"accepted": "Accepted", "reverted": "Reverted"}
# Where a completion came from, as the athlete knows it.
SOURCE_WORDS = {**DISPLAY_NAMES, "apple": "Apple Health", "manual": "entered by hand"}


def duration_words(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole} min"


def number_words(value: float) -> str:
    return f"{value:g}" if not float(value).is_integer() else f"{int(value)}"


def field_value(name: str, value: Any) -> str:
    """One field of a plan as the page writes it: ``Hard``, ``60 min``, ``zone 4``, ``420``."""
    if value is None:
        return "none"
    if name == "type":
        return TYPE_WORDS.get(str(value), str(value))
    if name == "durationMin":
        return duration_words(float(value))
    if name == "intensity" and isinstance(value, Mapping):
        return intensity_words(value)
    if isinstance(value, int | float):
        return number_words(float(value))
    return str(value)


def day_words(day: date, today: date) -> str:
    """``Today, Tuesday 10 March 2026``; ``Tomorrow, …``; ``Yesterday, …``; else the long day."""
    names = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}
    name = names.get((day - today).days)
    return f"{name}, {long_day(day)}" if name else long_day(day)


def moment_words(moment: datetime, tz: str) -> str:
    """``09:05 on Tuesday 10 March 2026`` in ``tz``."""
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local:%H:%M} on {long_day(local.date())}"


# --------------------------------------------------------------------------------------------
# What the pages show
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    field: str
    planned: str
    adjusted: str


@dataclass(frozen=True)
class HistoryLine:
    text: str
    at_iso: str
    at_words: str


@dataclass(frozen=True)
class AdjustmentView:
    status: str
    status_word: str
    status_meaning: str
    rows: list[DiffRow]
    rationale: str
    history: list[HistoryLine]
    can_accept: bool
    can_revert: bool


@dataclass(frozen=True)
class DoneView:
    duration: str
    rpe: str
    load: str
    source: str
    rpe_estimated: bool


@dataclass
class SessionView:
    id: int
    anchor: str
    title: str
    sport: str
    day: date
    day_text: str
    type: str
    type_word: str
    duration: str
    intensity: str
    planned_load: str
    adjustment: AdjustmentView | None
    done: DoneView | None
    can_complete: bool
    form: dict[str, str] = field(default_factory=dict)  # what was typed, after a refused post
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormProblem:
    """A refused form: which one (a session's id, or ``unplanned``), what was typed, and why."""

    target: str
    values: dict[str, str]
    errors: dict[str, str]


def actor_words(
    actor_id: int | None, role: str, viewer: User, subject: User, names: Mapping[int, str]
) -> str:
    if actor_id is not None and actor_id == viewer.id:
        return "you"
    if actor_id is None:
        return f"a former {role}"
    name = names.get(actor_id, f"person {actor_id}")
    if actor_id == subject.id:
        return f"{name} (the athlete)"
    return f"{role} {name}" if role in ("coach", "admin") else name


def status_meaning(status: str) -> str:
    if status == "proposed":
        return "Waiting for a decision. Until someone accepts it, the session stands as planned."
    if status == "accepted":
        return "The adjusted session is the plan."
    return "The session stands as originally planned."


def adjustment_view(
    adjustment: AdjustmentOut, viewer: User, subject: User, names: Mapping[int, str]
) -> AdjustmentView:
    rows = [
        DiffRow(FIELD_WORDS.get(d.field, d.field), field_value(d.field, d.from_), field_value(d.field, d.to))
        for d in adjustment.diff
    ]
    history = [
        HistoryLine(
            f"{DECISION_WORDS[d.decision]} by "
            + actor_words(d.actor_id, d.actor_role, viewer, subject, names),
            d.at.isoformat(),
            moment_words(d.at, viewer.tz),
        )
        for d in adjustment.decisions
    ]
    return AdjustmentView(
        status=adjustment.status,
        status_word=STATUS_WORDS.get(adjustment.status, adjustment.status),
        status_meaning=status_meaning(adjustment.status),
        rows=rows,
        rationale=adjustment.rationale,
        history=history,
        can_accept=adjustment.status != "accepted",
        can_revert=adjustment.status != "reverted",
    )


def done_view(row: CompletedSession | CompletionOut) -> DoneView:
    return DoneView(
        duration=duration_words(float(row.duration_min)),
        rpe=number_words(round(float(row.rpe), 1)),
        load=number_words(round(float(row.load))),
        source=SOURCE_WORDS.get(row.source, row.source),
        rpe_estimated=bool(row.rpe_estimated),
    )


def session_view(
    out: SessionOut, today: date, viewer: User, subject: User, names: Mapping[int, str]
) -> SessionView:
    final = out.final
    load = final.get("plannedLoad")
    return SessionView(
        id=out.id,
        anchor=f"session-{out.id}",
        title=out.title,
        sport=out.sport,
        day=out.date,
        day_text=day_words(out.date, today),
        type=str(final.get("type", out.type)),
        type_word=field_value("type", final.get("type", out.type)),
        duration=field_value("durationMin", final.get("durationMin", out.duration_min)),
        intensity=field_value("intensity", final.get("intensity")),
        planned_load="" if load is None else field_value("plannedLoad", load),
        adjustment=None
        if out.adjustment is None
        else adjustment_view(out.adjustment, viewer, subject, names),
        done=None if out.completed is None else done_view(out.completed),
        can_complete=out.date <= today,
    )


def _names(session: Session, outs: Sequence[SessionOut]) -> dict[int, str]:
    ids = {
        d.actor_id
        for out in outs
        if out.adjustment is not None
        for d in out.adjustment.decisions
        if d.actor_id is not None
    }
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {user_id: name or email for user_id, name, email in rows}


def load_chart(daily: Mapping[date, float], today: date) -> Chart | None:
    """ATL, CTL and TSB over the last 90 days; None when nothing was ever logged by then."""
    start = today - timedelta(days=LOAD_DAYS - 1)
    days = load_series(daily, start, today)
    if all(day.atl is None for day in days):
        return None
    latest = days[-1]
    logged = sum(day.load > 0 for day in days)
    summary = (
        f"Training load from {short_day(start)} to {short_day(today)}: sessions were logged on "
        f"{logged} of these {len(days)} days. Today the acute load (ATL, {ACUTE_DAYS}-day mean) is "
        f"{latest.atl:g} and the chronic load (CTL, {CTL_DAYS}-day mean) is {latest.ctl:g}"
    )
    if latest.tsb is None:
        summary += (
            f"; the balance (TSB) shows from {LOAD_MIN_HISTORY_DAYS} days after the first logged session."
        )
    else:
        feel = (
            "fresher than usual"
            if latest.tsb > 0
            else "more tired than usual"
            if latest.tsb < 0
            else "as usual"
        )
        summary += f"; the balance (TSB, CTL − ATL) is {latest.tsb:+g}: {feel}."
    return DayChart(
        element_id="load-chart",
        label=(
            f"Line chart of acute load (ATL), chronic load (CTL) and training-stress balance (TSB) "
            f"for each day from {short_day(start)} to {short_day(today)}"
        ),
        summary=summary,
        days=[day.date for day in days],
        y_label="Load (RPE × min per day)",
        unit="",
        decimals=0,
        series=[
            ChartSeries("ATL (7-day)", [day.atl for day in days], "line", "high"),
            ChartSeries("CTL (42-day)", [day.ctl for day in days], "line", "primary"),
            ChartSeries("TSB (CTL − ATL)", [day.tsb for day in days], "line", "band"),
        ],
        counted=1,
    )


@dataclass(frozen=True)
class DayChart(Chart):
    """A chart of calendar days that are not nights."""

    x_label: str = "Day"
    x_name: str = "Day"


def plan_context(
    session: Session,
    access: Access,
    today: date,
    *,
    base: str,
    problem: FormProblem | None = None,
) -> dict[str, Any]:
    """Everything both plan pages show of ``access.subject``: sessions two weeks either side of
    today (the later ones first in time, the earlier newest first), what was done without a plan,
    and the load chart."""
    subject, viewer = access.subject, access.viewer
    rows = sessions_between(
        session, subject.id, today - timedelta(days=BACK_DAYS), today + timedelta(days=AHEAD_DAYS)
    )
    outs = sessions_out(session, access, rows)
    names = _names(session, outs)
    views = [session_view(out, today, viewer, subject, names) for out in outs]
    if problem is not None:
        for view in views:
            if str(view.id) == problem.target:
                view.form, view.errors = problem.values, problem.errors
    unplanned = [
        {"day_text": day_words(row.date, today), "sport": row.sport, "done": done_view(row)}
        for row in reversed(completed_between(session, subject.id, today - timedelta(days=BACK_DAYS), today))
        if row.planned_session_id is None
    ]
    daily = daily_loads(session, [subject.id], until=today).get(subject.id, {})
    unplanned_problem = problem if problem is not None and problem.target == "unplanned" else None
    return {
        "is_self": access.is_self,
        "athlete_name": subject.name or subject.email,
        "today": today,
        "today_long": long_day(today),
        "time_zone": subject.tz,
        "base": base,
        "upcoming": [view for view in views if view.day >= today],
        "past": [view for view in reversed(views) if view.day < today],
        "unplanned": unplanned,
        "load_chart": load_chart(daily, today),
        "back_days": BACK_DAYS,
        "ahead_days": AHEAD_DAYS,
        "load_days": LOAD_DAYS,
        "max_minutes": MAX_DURATION_MIN,
        "problem_anchor": None
        if problem is None
        else "log"
        if problem.target == "unplanned"
        else f"session-{problem.target}",
        "log": {
            "values": unplanned_problem.values if unplanned_problem else {"date": today.isoformat()},
            "errors": unplanned_problem.errors if unplanned_problem else {},
        },
    }


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
