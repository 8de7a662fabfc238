from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from perfhub.auth.deps import CurrentUser
from perfhub.auth.models import User
from perfhub.auth.service import validate_timezone
from perfhub.core.deps import UowDep
from perfhub.readiness.service import recompute
from perfhub.readings.queries import source_priority

router = APIRouter(prefix="/me", tags=["me"])
VendorName = Literal["oura", "whoop", "google", "apple", "manual"]


class MeOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    tz: str
    sleep_need_min: int = Field(serialization_alias="sleepNeedMin")
    source_priority: list[str] = Field(serialization_alias="sourcePriority")


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tz: str | None = None
    sleep_need_min: int | None = Field(default=None, alias="sleepNeedMin", ge=240, le=720)
    source_priority: list[VendorName] | None = Field(default=None, alias="sourcePriority", min_length=1)

    @field_validator("source_priority")
    @classmethod
    def _no_duplicates(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each vendor at most once")
        return value


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
def get_me(user: CurrentUser) -> MeOut:
    """Your profile and the settings readiness uses (time zone, sleep need, source priority)."""
    return me_out(user)


@router.patch("", response_model=MeOut, response_model_by_alias=True)
def patch_me(body: MePatch, uow: UowDep, user: CurrentUser) -> MeOut:
    """Change settings. A new sleep need or source priority recomputes your readiness history."""
    if body.tz is not None:
        validate_timezone(body.tz)
    with uow() as session:
        me = session.get(User, user.id)
        assert me is not None
        affects_history = (body.sleep_need_min is not None and body.sleep_need_min != me.sleep_need_min) or (
            body.source_priority is not None and body.source_priority != list(source_priority(me))
        )
        for field in ("name", "tz", "sleep_need_min", "source_priority"):
            value = getattr(body, field)
            if value is not None:
                setattr(me, field, value)
        session.flush()
        if affects_history:
            recompute(session, [me])
        return me_out(me)
