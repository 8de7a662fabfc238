"""What the alerts endpoints answer and accept."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


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
