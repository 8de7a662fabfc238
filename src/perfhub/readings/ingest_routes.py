from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from perfhub.auth.deps import require_scope
from perfhub.auth.service import Principal
from perfhub.core.deps import UowDep
from perfhub.readings.schemas import Accepted, BatchAccepted, BatchIn, HrvIn, SleepIn
from perfhub.readings.service import accept_batch, accept_reading

router = APIRouter(prefix="/ingest", tags=["ingest"])
IngestCaller = Annotated[Principal, Depends(require_scope("ingest"))]


@router.post("/hrv", status_code=202, response_model=Accepted)
def ingest_hrv(body: HrvIn, uow: UowDep, _caller: IngestCaller) -> Accepted:
    """Accept one night's HRV / resting HR. Idempotent on (userId, date, vendor)."""
    with uow() as session:
        accept_reading(session, body)
        return Accepted()


@router.post("/sleep", status_code=202, response_model=Accepted)
def ingest_sleep(body: SleepIn, uow: UowDep, _caller: IngestCaller) -> Accepted:
    """Accept one night's sleep. Idempotent on (userId, date, vendor)."""
    with uow() as session:
        accept_reading(session, body)
        return Accepted()


@router.post("/batch", status_code=202, response_model=BatchAccepted)
def ingest_batch(body: BatchIn, uow: UowDep, _caller: IngestCaller) -> BatchAccepted:
    """Up to 1000 nights (``{"hrv": [...], "sleep": [...]}``), all or nothing, each idempotent on
    (userId, date, vendor) like the single endpoints."""
    with uow() as session:
        accepted = accept_batch(session, [*body.hrv, *body.sleep])
    return BatchAccepted(accepted=accepted)
