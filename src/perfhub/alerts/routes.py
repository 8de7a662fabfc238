from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from perfhub.alerts import service
from perfhub.alerts.schemas import AlertOut, Preferences
from perfhub.core.deps import UowDep
from perfhub.privacy.deps import AthleteRead, OwnRead, ReadRequest
from perfhub.privacy.disclosure import ALERT_SIGNALS
from perfhub.privacy.policy import disclose_alerts

router = APIRouter(prefix="/alerts", tags=["alerts"])

# Every kind of alert there is says something about one signal; reading them needs them all,
# and a kind the viewer may not see is left out all the same (disclose_alerts).
AlertsRead = Annotated[ReadRequest, AthleteRead(signals=set(ALERT_SIGNALS.values()))]


@router.get("", response_model=list[AlertOut])
def list_alerts(uow: UowDep, read: AlertsRead) -> list[AlertOut]:
    """Your nudges (or, with `userId`, an athlete's: a sleep-debt nudge needs `sleep`), newest first."""
    with uow() as session:
        access = read.authorize(session)
        alerts = service.list_alerts(session, access.subject.id)
        return [AlertOut.model_validate(a) for a in disclose_alerts(access, alerts, lambda a: a.kind)]


@router.get("/preferences", response_model=Preferences, response_model_by_alias=True)
def get_preferences(uow: UowDep, me: OwnRead) -> Preferences:
    with uow() as session:
        return Preferences(sleep_debt=service.preferences(session, me.subject_id).sleep_debt)


@router.put("/preferences", response_model=Preferences, response_model_by_alias=True)
def put_preferences(body: Preferences, uow: UowDep, me: OwnRead) -> Preferences:
    """Turn sleep-debt nudges on or off."""
    with uow() as session:
        pref = service.set_preferences(session, me.subject_id, sleep_debt=body.sleep_debt)
        return Preferences(sleep_debt=pref.sleep_debt)
