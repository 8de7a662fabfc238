"""What the training endpoints accept and answer (planned sessions' completions too)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from perfhub.readings.schemas import IsoDate, Number
from perfhub.teams.schemas import _storable_text
from perfhub.training.models import CompletedSession

MAX_DURATION_MIN = 1440


def _text(value: str) -> str:
    value = _storable_text(value).strip()
    if not value:
        raise ValueError("must not be blank")
    return value


ShortText = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(_text)]
Rpe = Annotated[Number, Field(ge=0, le=10, description="session RPE, CR-10 scale (0 rest … 10 maximal)")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CompletionIn(_Body):
    duration_min: Annotated[Number, Field(gt=0, le=MAX_DURATION_MIN)] = Field(alias="durationMin")
    rpe: Rpe


class CompletedSessionIn(CompletionIn):
    """A session done without a plan."""

    date: IsoDate
    sport: ShortText


class CompletionOut(BaseModel):
    id: int
    date: date
    sport: str
    duration_min: float = Field(serialization_alias="durationMin")
    rpe: float
    rpe_estimated: bool = Field(serialization_alias="rpeEstimated")
    load: float
    source: str
    planned_session_id: int | None = Field(serialization_alias="plannedSessionId")

    @classmethod
    def of(cls, row: CompletedSession) -> CompletionOut:
        return cls(
            id=row.id,
            date=row.date,
            sport=row.sport,
            duration_min=row.duration_min,
            rpe=row.rpe,
            rpe_estimated=row.rpe_estimated,
            load=row.load,
            source=row.source,
            planned_session_id=row.planned_session_id,
        )


class LoadDayOut(BaseModel):
    date: date
    load: float = Field(description="the day's load: RPE × minutes, summed over its sessions")
    atl: float | None = Field(description="acute load: 7-day mean")
    ctl: float | None = Field(description="chronic load: 42-day mean")
    tsb: float | None = Field(description="training-stress balance, CTL − ATL (from 21 days of logging)")
    acwr: float | None = Field(description="acute:chronic ratio, 7-day over 28-day mean (from 21 days)")
    monotony: float | None = Field(description="7-day mean over its standard deviation")
    strain: float | None = Field(description="7-day load × monotony")


class LoadOut(BaseModel):
    days: list[LoadDayOut]
