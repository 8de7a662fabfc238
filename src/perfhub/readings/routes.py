"""The readings API: ingest (service tokens) and the nightly rows read back (people)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from perfhub.auth.deps import require_scope
from perfhub.auth.models import User
from perfhub.auth.service import Principal
from perfhub.core.deps import UnitOfWork, UowDep
from perfhub.privacy.deps import AthleteRead, ReadRequest
from perfhub.privacy.disclosure import HRV_DAY, SLEEP_DAY, RowPolicy
from perfhub.privacy.policy import disclose_rows
from perfhub.readings import queries
from perfhub.readings.schemas import (
    Accepted,
    BatchAccepted,
    BatchIn,
    HrvDayOut,
    HrvIn,
    SleepDayOut,
    SleepIn,
)
from perfhub.readings.service import accept_batch, accept_reading

ingest_router = APIRouter(prefix="/ingest", tags=["ingest"])
router = APIRouter(tags=["data"])

IngestCaller = Annotated[Principal, Depends(require_scope("ingest"))]
SleepRead = Annotated[ReadRequest, AthleteRead(signals={"sleep"}, dated=True)]
HrvRead = Annotated[ReadRequest, AthleteRead(signals={"hrv"}, dated=True)]
DayOut = TypeVar("DayOut", SleepDayOut, HrvDayOut)


@ingest_router.post("/hrv", status_code=202, response_model=Accepted)
def ingest_hrv(body: HrvIn, uow: UowDep, _caller: IngestCaller) -> Accepted:
    """Accept one night's HRV / resting HR. Idempotent on (userId, date, vendor)."""
    with uow() as session:
        accept_reading(session, body)
        return Accepted()


@ingest_router.post("/sleep", status_code=202, response_model=Accepted)
def ingest_sleep(body: SleepIn, uow: UowDep, _caller: IngestCaller) -> Accepted:
    """Accept one night's sleep. Idempotent on (userId, date, vendor)."""
    with uow() as session:
        accept_reading(session, body)
        return Accepted()


@ingest_router.post("/batch", status_code=202, response_model=BatchAccepted)
def ingest_batch(body: BatchIn, uow: UowDep, _caller: IngestCaller) -> BatchAccepted:
    """Up to 1000 nights (``{"hrv": [...], "sleep": [...]}``), all or nothing, each idempotent on
    (userId, date, vendor) like the single endpoints."""
    with uow() as session:
        accepted = accept_batch(session, [*body.hrv, *body.sleep])
    return BatchAccepted(accepted=accepted)


@router.get("/sleep/summary", response_model=list[SleepDayOut], response_model_by_alias=True)
def sleep_summary(uow: UowDep, read: SleepRead) -> list[SleepDayOut]:
    """Nightly sleep, one row per wake date (the athlete's preferred source wins)."""
    return _disclosed_days(uow, read, queries.sleep_days, SLEEP_DAY, SleepDayOut)


@router.get("/hrv/daily", response_model=list[HrvDayOut], response_model_by_alias=True)
def hrv_daily(uow: UowDep, read: HrvRead) -> list[HrvDayOut]:
    """Nightly HRV and resting HR, one row per wake date (the athlete's preferred source wins)."""
    return _disclosed_days(uow, read, queries.hrv_days, HRV_DAY, HrvDayOut)


def _disclosed_days(
    uow: UnitOfWork,
    read: ReadRequest,
    load: Callable[[Session, User, date, date], Sequence[Any]],
    policy: RowPolicy,
    out: type[DayOut],
) -> list[DayOut]:
    """The authorised span of the athlete's rows, with what the caller may not see nulled."""
    with uow() as session:
        access, span = read.authorize_range(session)
        rows = load(session, access.subject, span.start, span.end)
        shown = disclose_rows(access, policy, (out.model_validate(r).model_dump() for r in rows))
        return [out.model_validate(row) for row in shown]
