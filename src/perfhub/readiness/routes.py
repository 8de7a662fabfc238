from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.privacy.deps import AthleteRead, ReadRequest
from perfhub.privacy.disclosure import SLEEP_DEBT_DAY, Detail
from perfhub.privacy.policy import Access, ShownDriver, disclose_readiness, disclose_rows
from perfhub.readiness import queries
from perfhub.readiness.engine import driver_from_json, render, render_plain
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.schemas import ComponentOut, DebtOut, ReadinessOut
from perfhub.readiness.service import ensure_today, sleep_debt_days

router = APIRouter(tags=["insights"])

ReadinessRead = Annotated[ReadRequest, AthleteRead(signals={"readiness"})]
ReadinessRangeRead = Annotated[ReadRequest, AthleteRead(signals={"readiness"}, dated=True)]
SleepDebtRead = Annotated[ReadRequest, AthleteRead(signals={"sleep"}, dated=True)]


def _sentence(driver: ShownDriver) -> str:
    if driver.detail is Detail.PLAIN:
        return render_plain(driver.fact["code"])
    return render(driver_from_json(driver.fact))


def readiness_out(access: Access, row: ReadinessSnapshotRow) -> ReadinessOut:
    shown = disclose_readiness(access, row.drivers, row.components)
    return ReadinessOut(
        readiness=round(row.score or 0),
        drivers=[_sentence(d) for d in shown.drivers],
        updated_at=row.computed_at,
        date=row.date,
        band=row.band or "",
        status=row.status or "",
        stale=row.stale,
        components=[ComponentOut(**c) for c in shown.components],
        algorithm_version=row.algorithm_version,
        driver_facts=[d.fact for d in shown.drivers],
        hidden=shown.withheld,
    )


_REASON_TEXT = {
    "calibrating": "Readiness is calibrating: it needs at least 4 nights of HRV.",
    "no_data": "No HRV, resting HR or sleep data yet.",
    "no_recent_data": "No data for more than 7 days.",
}


@router.get("/readiness/today", response_model=ReadinessOut, response_model_by_alias=True)
def readiness_today(uow: UowDep, read: ReadinessRead) -> ReadinessOut:
    """Today's readiness (the athlete's local date), or 404 with a ``reason``."""
    with uow() as session:
        access = read.authorize(session)
        today = ensure_today(session, access.subject)
        row = queries.snapshot_on(session, access.subject.id, today)
        if row is not None and row.score is not None:
            return readiness_out(access, row)
        reason = queries.no_score_reason(session, access.subject.id, row)
    # Outside the unit of work: a freshly materialised no-score snapshot is kept.
    raise NotFound(_REASON_TEXT[reason], reason=reason, date=today.isoformat())


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
