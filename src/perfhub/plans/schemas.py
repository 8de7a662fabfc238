"""What the plan endpoints accept and answer (API names in camelCase)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator

from perfhub.core.bounds import MAX_ID
from perfhub.readings.schemas import IsoDate, Number
from perfhub.teams.schemas import _storable_text
from perfhub.training.schemas import MAX_DURATION_MIN, CompletionOut, ShortText

SessionType = Literal["easy", "moderate", "hard", "rest"]
IntensityKind = Literal["zone", "ftp", "pace", "rpe"]
AdjustmentStatus = Literal["proposed", "accepted", "reverted"]
Decision = Literal["accepted", "reverted"]

# Each intensity target's unit and the values it may take.
INTENSITY_RANGES: dict[str, tuple[float, float, str]] = {
    "zone": (1, 5, "heart-rate or power zone 1–5"),
    "ftp": (30, 200, "% of FTP"),
    "pace": (120, 1200, "seconds per km"),
    "rpe": (0, 10, "RPE 0–10"),
}


def _text(value: str) -> str:
    value = _storable_text(value).strip()
    if not value:
        raise ValueError("must not be blank")
    return value


Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_text)]
DurationMin = Annotated[StrictInt, Field(ge=0, le=MAX_DURATION_MIN, description="minutes")]
PlannedLoad = Annotated[Number, Field(ge=0, le=10_000, description="planned load, RPE × minutes")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Intensity(_Body):
    """An intensity target: a zone (1–5), a percentage of FTP, a pace (seconds per km) or an RPE."""

    kind: IntensityKind
    value: Number

    @model_validator(mode="after")
    def _in_range(self) -> Intensity:
        low, high, unit = INTENSITY_RANGES[self.kind]
        if not math.isfinite(self.value) or not low <= self.value <= high:
            raise ValueError(f"{self.kind} must be {unit}, between {low:g} and {high:g}")
        if self.kind == "zone" and not float(self.value).is_integer():
            raise ValueError("zone must be a whole number")
        return self


class SessionFields(_Body):
    """A planned session's own fields (a ``rest`` session may have 0 minutes)."""

    date: IsoDate
    sport: ShortText
    title: Title
    type: SessionType
    duration_min: DurationMin = Field(alias="durationMin")
    intensity: Intensity | None = None
    planned_load: PlannedLoad | None = Field(default=None, alias="plannedLoad")

    @model_validator(mode="after")
    def _duration(self) -> SessionFields:
        if self.type != "rest" and self.duration_min == 0:
            raise ValueError("durationMin must be more than 0 for a session that is not rest")
        return self


class SessionCreate(SessionFields):
    athlete_id: Annotated[StrictInt, Field(gt=0, le=MAX_ID)] | None = Field(
        default=None, alias="athleteId", description="a coach: the athlete of your team it is for"
    )


class SessionUpdate(_Body):
    """Any of a session's fields; what is left out stays."""

    date: IsoDate | None = None
    sport: ShortText | None = None
    title: Title | None = None
    type: SessionType | None = None
    duration_min: DurationMin | None = Field(default=None, alias="durationMin")
    intensity: Intensity | None = None
    planned_load: PlannedLoad | None = Field(default=None, alias="plannedLoad")


class DiffOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    field: str
    from_: Any = Field(serialization_alias="from")
    to: Any


class DecisionOut(BaseModel):
    decision: Decision
    actor_id: int | None = Field(serialization_alias="actorId")
    actor_role: str = Field(serialization_alias="actorRole")
    at: datetime


class AdjustmentOut(BaseModel):
    session_id: int = Field(serialization_alias="sessionId")
    status: AdjustmentStatus
    rule: str
    original: dict[str, Any]
    adjusted: dict[str, Any]
    diff: list[DiffOut]
    rationale: str = Field(description="why, in words; values only as far as the reader may see them")
    drivers: list[str] = Field(description="the readiness drivers behind it, as sentences")
    readiness: int | None = Field(description="null when the athlete does not share readiness with you")
    band: str | None
    snapshot_date: date = Field(
        serialization_alias="date", description="the day of the readiness snapshot it follows"
    )
    updated_at: datetime = Field(serialization_alias="updatedAt")
    decisions: list[DecisionOut] = Field(description="every accept and revert, oldest first")


class SessionOut(BaseModel):
    id: int
    athlete_id: int = Field(serialization_alias="athleteId")
    date: date
    sport: str
    title: str
    type: SessionType
    duration_min: int = Field(serialization_alias="durationMin")
    intensity: dict[str, Any] | None
    planned_load: float | None = Field(serialization_alias="plannedLoad")
    source: str
    adjustment: AdjustmentOut | None
    final: dict[str, Any] = Field(
        description="the session as finally decided: type, durationMin, intensity, plannedLoad"
    )
    completed: CompletionOut | None
