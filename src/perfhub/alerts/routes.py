from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from perfhub.alerts import service
from perfhub.auth.deps import CurrentUser
from perfhub.core.deps import UowDep, UserQuery
from perfhub.privacy.disclosure import ALERT_SIGNALS, ordered
from perfhub.privacy.policy import authorize_read, disclose_alerts

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
def list_alerts(
    request: Request, uow: UowDep, user: CurrentUser, user_id: int | None = UserQuery
) -> list[AlertOut]:
    """Your nudges (or, with `userId`, an athlete's: a sleep-debt nudge needs `sleep`), newest first."""
    with uow() as session:
        # Every kind of alert there is says something about one signal; reading them needs them all,
        # and a kind the viewer may not see is left out below all the same.
        wanted = ordered(set(ALERT_SIGNALS.values()))
        access = authorize_read(session, user, user_id or user.id, wanted, request.url.path)
        alerts = service.list_alerts(session, access.subject.id)
        return [AlertOut.model_validate(a) for a in disclose_alerts(access, alerts, lambda a: a.kind)]


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
