"""Completed sessions and training load: the ``training`` signal of the athlete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from perfhub.core.deps import UowDep
from perfhub.privacy.deps import AthleteRead, OwnRead, ReadRequest
from perfhub.training.load import load_series
from perfhub.training.queries import completed_between, daily_loads
from perfhub.training.schemas import CompletedSessionIn, CompletionOut, LoadDayOut, LoadOut
from perfhub.training.service import record_unplanned

router = APIRouter(tags=["training"])

TrainingRange = Annotated[ReadRequest, AthleteRead(signals=("training",), dated=True)]


@router.post("/training/sessions", status_code=201, response_model=CompletionOut)
def log_session(body: CompletedSessionIn, uow: UowDep, read: OwnRead) -> CompletionOut:
    """Log a session you did without a plan: date, sport, minutes and session RPE."""
    with uow() as session:
        me = read.authorize(session).subject
        row = record_unplanned(session, me, me, body.date, body.sport, body.duration_min, body.rpe)
        return CompletionOut.of(row)


@router.get("/training/sessions", response_model=list[CompletionOut])
def list_completed(uow: UowDep, read: TrainingRange) -> list[CompletionOut]:
    """Completed sessions from `from` to `to`, planned or not, entered or from a wearable."""
    with uow() as session:
        access, days = read.authorize_range(session)
        return [
            CompletionOut.of(row)
            for row in completed_between(session, access.subject.id, days.start, days.end)
        ]


@router.get("/training/load", response_model=LoadOut)
def training_load(uow: UowDep, read: TrainingRange) -> LoadOut:
    """Daily load with ATL, CTL, TSB, acute:chronic ratio, monotony and strain, from `from` to `to`."""
    with uow() as session:
        access, days = read.authorize_range(session)
        daily = daily_loads(session, [access.subject.id], until=days.end).get(access.subject.id, {})
        return LoadOut(days=[LoadDayOut(**vars(day)) for day in load_series(daily, days.start, days.end)])
