"""What the readiness endpoints answer (the HTTP contract in docs/http-api.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class ComponentOut(BaseModel):
    name: str
    score: float
    weight: float


class ReadinessOut(BaseModel):
    readiness: int
    drivers: list[str]
    updated_at: datetime = Field(serialization_alias="updatedAt")
    date: date
    band: str
    status: str
    stale: bool
    components: list[ComponentOut]
    algorithm_version: str = Field(serialization_alias="algorithmVersion")
    driver_facts: list[dict[str, Any]] = Field(
        serialization_alias="driverFacts",
        description="the drivers as structured facts (code and numbers; no numbers where `drivers` has none)",
    )
    hidden: list[str] = Field(
        default_factory=list,
        description="signals the athlete does not share with you: their numbers and contributor scores "
        "are left out, and drivers about them are in words only (or left out)",
    )


class DebtOut(BaseModel):
    date: date
    debt_hours: float = Field(serialization_alias="debtHours")
    category: str
