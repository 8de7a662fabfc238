from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from perfhub.auth.service import Principal
from perfhub.core.deps import UowDep, require_scope
from perfhub.ingest.schemas import Accepted, HrvIn, SleepIn
from perfhub.ingest.service import accept_reading

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
