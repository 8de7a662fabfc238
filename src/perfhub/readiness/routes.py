from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.privacy.deps import AthleteRead, ReadRequest
from perfhub.privacy.disclosure import SLEEP_DEBT_DAY
from perfhub.privacy.policy import disclose_rows
from perfhub.readiness import queries
from perfhub.readiness.presenter import REASON_TEXT, readiness_out, today_readiness
from perfhub.readiness.schemas import DebtOut, ReadinessOut
from perfhub.readiness.service import sleep_debt_days

router = APIRouter(tags=["insights"])

ReadinessRead = Annotated[ReadRequest, AthleteRead(signals={"readiness"})]
ReadinessRangeRead = Annotated[ReadRequest, AthleteRead(signals={"readiness"}, dated=True)]
SleepDebtRead = Annotated[ReadRequest, AthleteRead(signals={"sleep"}, dated=True)]


@router.get("/readiness/today", response_model=ReadinessOut, response_model_by_alias=True)
def readiness_today(uow: UowDep, read: ReadinessRead) -> ReadinessOut:
    """Today's readiness (the athlete's local date), or 404 with a ``reason``."""
    with uow() as session:
        access = read.authorize(session)
        today = today_readiness(session, access)
        if today.readiness is not None:
            return today.readiness
    # Outside the unit of work: a freshly materialised no-score snapshot is kept.
    raise NotFound(REASON_TEXT[today.reason], reason=today.reason, date=today.date.isoformat())


@router.get("/readiness", response_model=list[ReadinessOut], response_model_by_alias=True)
def readiness_history(uow: UowDep, read: ReadinessRangeRead) -> list[ReadinessOut]:
    """Scored days in the range, by date."""
    with uow() as session:
        access, span = read.authorize_range(session)
        rows = queries.scored_snapshots(session, access.subject.id, span.start, span.end)
        return [readiness_out(access, row) for row in rows]


@router.get("/sleep/debt", response_model=list[DebtOut], response_model_by_alias=True)
def sleep_debt(uow: UowDep, read: SleepDebtRead) -> list[DebtOut]:
    """Weighted 14-night sleep debt per day (days with fewer than 5 nights are left out)."""
    with uow() as session:
        access, span = read.authorize_range(session)
        days = sleep_debt_days(session, access.subject, span.start, span.end)
        rows = disclose_rows(
            access,
            SLEEP_DEBT_DAY,
            ({"date": d.date, "debt_hours": d.debt_hours, "category": d.category} for d in days),
        )
        return [DebtOut.model_validate(row) for row in rows]
