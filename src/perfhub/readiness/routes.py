from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.deps import CurrentUser
from perfhub.auth.models import User
from perfhub.core.deps import FromQuery, ToQuery, UowDep, UserQuery
from perfhub.core.errors import NotFound
from perfhub.privacy.disclosure import SLEEP_DEBT_DAY, Detail
from perfhub.privacy.policy import (
    Access,
    ShownDriver,
    authorize_range_read,
    authorize_read,
    disclose_readiness,
    disclose_rows,
)
from perfhub.readiness.drivers import driver_from_json, render, render_plain
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.service import ensure_today, sleep_debt_days
from perfhub.readings.models import HrvDaily, SleepDaily

router = APIRouter(tags=["insights"])


class ComponentOut(BaseModel):
    name: str
    score: float
    weight: float


class ReadinessOut(BaseModel):
    readiness: int
    drivers: list[str]
    updated_at: datetime = Field(serialization_alias="updatedAt")
    date: date
    band: str
    status: str
    stale: bool
    components: list[ComponentOut]
    algorithm_version: str = Field(serialization_alias="algorithmVersion")
    driver_facts: list[dict[str, Any]] = Field(
        serialization_alias="driverFacts",
        description="the drivers as structured facts (code and numbers; no numbers where `drivers` has none)",
    )
    hidden: list[str] = Field(
        default_factory=list,
        description="signals the athlete does not share with you: their numbers and contributor scores "
        "are left out, and drivers about them are in words only (or left out)",
    )


class DebtOut(BaseModel):
    date: date
    debt_hours: float = Field(serialization_alias="debtHours")
    category: str


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


def _no_score_reason(session: Session, subject: User, row: ReadinessSnapshotRow | None) -> str:
    if row is not None and row.reason:
        return row.reason
    has_data = session.scalar(
        select(HrvDaily.id).where(HrvDaily.user_id == subject.id).limit(1)
    ) or session.scalar(select(SleepDaily.id).where(SleepDaily.user_id == subject.id).limit(1))
    return "no_recent_data" if has_data else "no_data"


_REASON_TEXT = {
    "calibrating": "Readiness is calibrating: it needs at least 4 nights of HRV.",
    "no_data": "No HRV, resting HR or sleep data yet.",
    "no_recent_data": "No data for more than 7 days.",
}


@router.get("/readiness/today", response_model=ReadinessOut, response_model_by_alias=True)
def readiness_today(
    request: Request, uow: UowDep, user: CurrentUser, user_id: int | None = UserQuery
) -> ReadinessOut:
    """Today's readiness (the athlete's local date), or 404 with a ``reason``."""
    with uow() as session:
        access = authorize_read(session, user, user_id or user.id, ["readiness"], request.url.path)
        today = ensure_today(session, access.subject)
        row = session.scalar(
            select(ReadinessSnapshotRow).where(
                ReadinessSnapshotRow.user_id == access.subject.id,
                ReadinessSnapshotRow.date == today,
                ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
            )
        )
        if row is not None and row.score is not None:
            return readiness_out(access, row)
        reason = _no_score_reason(session, access.subject, row)
    # Outside the unit of work: a freshly materialised no-score snapshot is kept.
    raise NotFound(_REASON_TEXT[reason], reason=reason, date=today.isoformat())


@router.get("/readiness", response_model=list[ReadinessOut], response_model_by_alias=True)
def readiness_history(
    request: Request,
    uow: UowDep,
    user: CurrentUser,
    from_: str | None = FromQuery,
    to: str | None = ToQuery,
    user_id: int | None = UserQuery,
) -> list[ReadinessOut]:
    """Scored days in the range, by date."""
    with uow() as session:
        access, span = authorize_range_read(
            session, user, user_id, ["readiness"], request.url.path, from_, to
        )
        rows = session.scalars(
            select(ReadinessSnapshotRow)
            .where(
                ReadinessSnapshotRow.user_id == access.subject.id,
                ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
                ReadinessSnapshotRow.date >= span.start,
                ReadinessSnapshotRow.date <= span.end,
                ReadinessSnapshotRow.score.is_not(None),
            )
            .order_by(ReadinessSnapshotRow.date)
        )
        return [readiness_out(access, row) for row in rows]


@router.get("/sleep/debt", response_model=list[DebtOut], response_model_by_alias=True)
def sleep_debt(
    request: Request,
    uow: UowDep,
    user: CurrentUser,
    from_: str | None = FromQuery,
    to: str | None = ToQuery,
    user_id: int | None = UserQuery,
) -> list[DebtOut]:
    """Weighted 14-night sleep debt per day (days with fewer than 5 nights are left out)."""
    with uow() as session:
        access, span = authorize_range_read(session, user, user_id, ["sleep"], request.url.path, from_, to)
        days = sleep_debt_days(session, access.subject, span.start, span.end)
        rows = disclose_rows(
            access,
            SLEEP_DEBT_DAY,
            ({"date": d.date, "debt_hours": d.debt_hours, "category": d.category} for d in days),
        )
        return [DebtOut.model_validate(row) for row in rows]
