"""The plan API: planned sessions, their adjustments (accept / revert) and completions.

Everything here is the ``training`` signal of the session's athlete: the athlete themself, a
coach of a team they share training with, or an admin. A session the caller may not know of is
404 as one that does not exist; a coach whose athlete does not share training gets 403. An
adjustment's readiness and the values in its rationale are shown as far as the athlete shares
``readiness`` (and each driver's own signal) with the reader.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from perfhub.auth.deps import CurrentUser
from perfhub.core.dates import date_range, local_today
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.plans import service
from perfhub.plans.models import PlannedSession
from perfhub.plans.presenter import sessions_between, sessions_out
from perfhub.plans.schemas import AdjustmentOut, SessionCreate, SessionOut, SessionUpdate
from perfhub.privacy.deps import AthleteRead, ReadRequest, RecordRead, RecordReadRequest
from perfhub.privacy.policy import authorize_read
from perfhub.training.schemas import CompletionIn, CompletionOut
from perfhub.training.service import record_planned

router = APIRouter(tags=["plans"])

TRAINING = ("training",)
SessionRead = Annotated[
    RecordReadRequest,
    RecordRead(TRAINING, kind="planned session", owner=service.session_owner, param="sessionId"),
]
PlanRange = Annotated[ReadRequest, AthleteRead(signals=TRAINING, dated=True)]

# Without from/to: two weeks back and four ahead (what a plan view shows).
DEFAULT_BACK_DAYS, DEFAULT_AHEAD_DAYS = 14, 28


@router.post("/plan/sessions", status_code=201, response_model=SessionOut)
def create_session(body: SessionCreate, request: Request, uow: UowDep, user: CurrentUser) -> SessionOut:
    """Plan a session: for yourself, or (`athleteId`) for an athlete of a team you coach who
    shares training with it. A proposal is made at once if the day already has readiness."""
    with uow() as session:
        access = authorize_read(session, user, body.athlete_id or user.id, TRAINING, request.url.path)
        row = service.create_session(session, user, access.subject, body)
        return sessions_out(session, access, [row])[0]


@router.get("/plan/sessions", response_model=list[SessionOut])
def list_sessions(uow: UowDep, read: PlanRange) -> list[SessionOut]:
    """The sessions from `from` to `to` (default: two weeks back, four ahead), each with its
    adjustment or decision, its completion and the session as finally decided."""
    with uow() as session:
        access = read.authorize(session)
        today = local_today(access.subject.tz)
        default_to = today + timedelta(days=DEFAULT_AHEAD_DAYS)
        days = date_range(
            read.raw_from or (today - timedelta(days=DEFAULT_BACK_DAYS)).isoformat(),
            read.raw_to or default_to.isoformat(),
            today,
        )
        rows = sessions_between(session, access.subject.id, days.start, days.end)
        return sessions_out(session, access, rows)


def _session(session: Session, read: RecordReadRequest) -> PlannedSession:
    row = session.get(PlannedSession, read.record_id)
    if row is None:  # deleted between the policy's check and here
        raise NotFound(f"no planned session with id {read.record_id}")
    return row


@router.get("/plan/sessions/{sessionId}", response_model=SessionOut)
def get_session(uow: UowDep, read: SessionRead) -> SessionOut:
    """One session with its adjustment, decisions and completion."""
    with uow() as session:
        access = read.authorize(session)
        return sessions_out(session, access, [_session(session, read)])[0]


@router.patch("/plan/sessions/{sessionId}", response_model=SessionOut)
def update_session(body: SessionUpdate, uow: UowDep, read: SessionRead) -> SessionOut:
    """Change any of a session's fields. An open proposal is made again for the new plan; once
    its adjustment was accepted or reverted the plan no longer changes (409)."""
    with uow() as session:
        access = read.authorize(session)
        row = service.update_session(session, _session(session, read), body)
        return sessions_out(session, access, [row])[0]


@router.delete("/plan/sessions/{sessionId}", status_code=204)
def delete_session(uow: UowDep, read: SessionRead) -> Response:
    """Remove a session with its adjustment and decisions; a completion of it stays, unplanned."""
    with uow() as session:
        read.authorize(session)
        service.delete_session(session, _session(session, read))
    return Response(status_code=204)


@router.get("/plan/sessions/{sessionId}/adjustment", response_model=AdjustmentOut)
def get_adjustment(uow: UowDep, read: SessionRead) -> AdjustmentOut:
    """The session's adjustment: original and adjusted fields, their diff, the rationale and the
    readiness behind it, its status and every decision. None yet: 404."""
    with uow() as session:
        access = read.authorize(session)
        out = sessions_out(session, access, [_session(session, read)])[0].adjustment
        if out is None:
            raise NotFound(f"session {read.record_id} has no adjustment")
        return out


def _decide(uow: UowDep, read: RecordReadRequest, decision: str) -> AdjustmentOut:
    with uow() as session:
        access = read.authorize(session)
        row = _session(session, read)
        service.decide(session, access.viewer, row, decision)
        out = sessions_out(session, access, [row])[0].adjustment
        assert out is not None
        return out


@router.post("/plan/sessions/{sessionId}/adjustment/accept", response_model=AdjustmentOut)
def accept_adjustment(uow: UowDep, read: SessionRead) -> AdjustmentOut:
    """Take the adjusted session (the athlete, or a coach of theirs). Accepting twice is one decision."""
    return _decide(uow, read, "accepted")


@router.post("/plan/sessions/{sessionId}/adjustment/revert", response_model=AdjustmentOut)
def revert_adjustment(uow: UowDep, read: SessionRead) -> AdjustmentOut:
    """Keep (or go back to) the session exactly as planned."""
    return _decide(uow, read, "reverted")


@router.post("/plan/sessions/{sessionId}/complete", response_model=CompletionOut)
def complete_session(body: CompletionIn, uow: UowDep, read: SessionRead) -> CompletionOut:
    """Say the session was done: minutes and session RPE (load = RPE × minutes). Saying it again
    corrects it; a watch's record of the same session joins this one, never adds a second."""
    with uow() as session:
        access = read.authorize(session)
        row = _session(session, read)
        done = record_planned(
            session, row.athlete_id, access.viewer, row.id, row.date, row.sport, body.duration_min, body.rpe
        )
        return CompletionOut.of(done)
