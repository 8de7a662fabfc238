from __future__ import annotations

from fastapi import APIRouter

from perfhub.auth.models import User
from perfhub.core.deps import UowDep
from perfhub.privacy.deps import OwnRead
from perfhub.profile.schemas import MeOut, MePatch
from perfhub.profile.service import update_profile
from perfhub.readings.queries import source_priority

router = APIRouter(prefix="/me", tags=["me"])


def me_out(user: User) -> MeOut:
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        tz=user.tz,
        sleep_need_min=user.sleep_need_min,
        source_priority=list(source_priority(user)),
    )


@router.get("", response_model=MeOut, response_model_by_alias=True)
def get_me(me: OwnRead) -> MeOut:
    """Your profile and the settings readiness uses (time zone, sleep need, source priority)."""
    return me_out(me.viewer)


@router.patch("", response_model=MeOut, response_model_by_alias=True)
def patch_me(body: MePatch, uow: UowDep, me: OwnRead) -> MeOut:
    """Change settings. A new sleep need or source priority recomputes your readiness history."""
    with uow() as session:
        return me_out(update_profile(session, me.subject_id, body))
