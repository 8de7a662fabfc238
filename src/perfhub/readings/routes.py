from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from perfhub.auth.deps import CurrentUser
from perfhub.core.deps import FromQuery, ToQuery, UowDep, UserQuery
from perfhub.privacy.disclosure import HRV_DAY, SLEEP_DAY
from perfhub.privacy.policy import authorize_range_read, disclose_rows
from perfhub.readings import queries

router = APIRouter(tags=["data"])


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, from_attributes=True)


class SleepDayOut(_Out):
    user_id: int = Field(serialization_alias="userId")
    date: date
    duration_min: float = Field(serialization_alias="durationMin")
    efficiency_pct: float | None = Field(serialization_alias="efficiencyPct")
    latency_min: float | None = Field(serialization_alias="latencyMin")
    wake_count: int | None = Field(serialization_alias="wakeCount")
    vendor: str
    captured_at: datetime = Field(serialization_alias="capturedAt")


class HrvDayOut(_Out):
    user_id: int = Field(serialization_alias="userId")
    date: date
    rmssd_ms: float | None = Field(serialization_alias="rMSSD")
    ln_rmssd: float | None = Field(serialization_alias="lnRMSSD")
    sdnn_ms: float | None = Field(serialization_alias="sdnn")
    resting_hr: float | None = Field(serialization_alias="restingHr")
    # The vendor's own readiness score: disclosed with `readiness`, so null to a coach without it.
    readiness_score: float | None = Field(serialization_alias="readinessScore")
    # True while the vendor's own scores for the night are not final (WHOOP is still calibrating);
    # it is about that score, so it travels with it.
    vendor_calibrating: bool | None = Field(serialization_alias="vendorCalibrating")
    vendor: str
    captured_at: datetime = Field(serialization_alias="capturedAt")


@router.get("/sleep/summary", response_model=list[SleepDayOut], response_model_by_alias=True)
def sleep_summary(
    request: Request,
    uow: UowDep,
    user: CurrentUser,
    from_: str | None = FromQuery,
    to: str | None = ToQuery,
    user_id: int | None = UserQuery,
) -> list[SleepDayOut]:
    """Nightly sleep, one row per wake date (the athlete's preferred source wins)."""
    with uow() as session:
        access, span = authorize_range_read(session, user, user_id, ["sleep"], request.url.path, from_, to)
        rows = queries.sleep_days(session, access.subject, span.start, span.end)
        shown = disclose_rows(access, SLEEP_DAY, (SleepDayOut.model_validate(r).model_dump() for r in rows))
        return [SleepDayOut.model_validate(row) for row in shown]


@router.get("/hrv/daily", response_model=list[HrvDayOut], response_model_by_alias=True)
def hrv_daily(
    request: Request,
    uow: UowDep,
    user: CurrentUser,
    from_: str | None = FromQuery,
    to: str | None = ToQuery,
    user_id: int | None = UserQuery,
) -> list[HrvDayOut]:
    """Nightly HRV and resting HR, one row per wake date (the athlete's preferred source wins)."""
    with uow() as session:
        access, span = authorize_range_read(session, user, user_id, ["hrv"], request.url.path, from_, to)
        rows = queries.hrv_days(session, access.subject, span.start, span.end)
        shown = disclose_rows(access, HRV_DAY, (HrvDayOut.model_validate(r).model_dump() for r in rows))
        return [HrvDayOut.model_validate(row) for row in shown]
