from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from perfhub.alerts import service
from perfhub.core.deps import CurrentUser, UowDep

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    date: date
    severity: str
    message: str


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sleep_debt: bool = Field(alias="sleepDebt")


@router.get("", response_model=list[AlertOut])
def list_alerts(uow: UowDep, user: CurrentUser) -> list[AlertOut]:
    """Your nudges, newest first."""
    with uow() as session:
        return [AlertOut.model_validate(a) for a in service.list_alerts(session, user.id)]


@router.get("/preferences", response_model=Preferences, response_model_by_alias=True)
def get_preferences(uow: UowDep, user: CurrentUser) -> Preferences:
    with uow() as session:
        return Preferences(sleep_debt=service.preferences(session, user.id).sleep_debt)


@router.put("/preferences", response_model=Preferences, response_model_by_alias=True)
def put_preferences(body: Preferences, uow: UowDep, user: CurrentUser) -> Preferences:
    """Turn sleep-debt nudges on or off."""
    with uow() as session:
        pref = service.set_preferences(session, user.id, sleep_debt=body.sleep_debt)
        return Preferences(sleep_debt=pref.sleep_debt)
