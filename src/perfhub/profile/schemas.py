"""What ``/me`` answers and accepts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from perfhub.readings.schemas import Vendor

VendorName = Vendor  # the canonical sources, from readings


class MeOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    tz: str
    # Null: the need is estimated from the athlete's own nights (docs/readiness.md, "Sleep debt").
    sleep_need_min: int | None = Field(serialization_alias="sleepNeedMin")
    source_priority: list[str] = Field(serialization_alias="sourcePriority")


class MePatch(BaseModel):
    """Fields left out, or null, stay as they are, except ``sleepNeedMin``: null there is a change,
    back to the need estimated from your own nights."""

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
