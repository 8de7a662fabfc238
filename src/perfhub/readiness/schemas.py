"""What the readiness endpoints answer (the HTTP contract in docs/http-api.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    flags: list[str] = Field(
        default_factory=list,
        description="the day's flags (docs/readiness.md#flags) you may see: `illness`, `hrv_below_range`, "
        "`hrv_unusually_high`, `overreaching`, `sleep_debt` (needs `sleep` too), `load_spike`, `stale`, "
        "`calibrating`",
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


# ``date`` is also a field's name below; inside those classes the type goes by this one.
Day = date


# Team reads (``/teams/{teamId}/readiness``, ``…/athletes/{athleteId}/trend``). Each field belongs to
# one signal; a signal the athlete does not share is null in every field it covers and named in
# ``hidden`` — never shown as zero.
_HIDDEN = (
    "the table's signals (hrv, sleep, readiness) the athlete does not share with you; their fields are null"
)


class TeamRowOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    date: Day = Field(description="the athlete's day: the requested date, else their own local today")
    athlete_id: int = Field(alias="athleteId")
    name: str
    readiness: int | None = Field(None, description="readiness: the score, null when there is none")
    band: str | None = Field(None, description="readiness: low | reduced | normal | elevated")
    status: str | None = Field(None, description="readiness: calibrating | provisional | full")
    stale: bool | None = Field(None, description="readiness: the score rests on old HRV or resting-HR data")
    sleep_debt_hours: float | None = Field(None, alias="sleepDebtHours", description="sleep")
    sleep_debt_category: str | None = Field(
        None, alias="sleepDebtCategory", description="sleep: none | low | moderate | high"
    )
    last_sleep_min: float | None = Field(
        None, alias="lastSleepMin", description="sleep: the night ending on `date`"
    )
    last_sleep_efficiency_pct: float | None = Field(None, alias="lastSleepEfficiencyPct", description="sleep")
    ln_rmssd: float | None = Field(None, alias="lnRMSSD", description="hrv: the night's ln rMSSD")
    normal_low: float | None = Field(
        None, alias="normalLow", description="hrv: the normal range's low end (ln)"
    )
    normal_high: float | None = Field(
        None, alias="normalHigh", description="hrv: the normal range's high end (ln)"
    )
    hrv_vs_normal: str | None = Field(
        None, alias="hrvVsNormal", description="hrv: the 7-day HRV below | within | above the normal range"
    )
    flags: list[str] | None = Field(None, description="readiness: the day's flags you may see")
    hidden: list[str] = Field(default_factory=list, description=_HIDDEN)


class TeamTableOut(BaseModel):
    date: Day | None = Field(description="the requested date; null when each row is its athlete's own today")
    athletes: list[TeamRowOut]


class TrendDayOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    date: Day
    readiness: int | None = None
    band: str | None = None
    status: str | None = None
    stale: bool | None = None
    flags: list[str] | None = None
    ln_rmssd: float | None = Field(None, alias="lnRMSSD")
    normal_low: float | None = Field(None, alias="normalLow")
    normal_high: float | None = Field(None, alias="normalHigh")
    resting_hr: float | None = Field(None, alias="restingHr")
    resting_hr_baseline: float | None = Field(None, alias="restingHrBaseline")
    sleep_min: float | None = Field(None, alias="sleepMin")
    efficiency_pct: float | None = Field(None, alias="efficiencyPct")
    sleep_debt_hours: float | None = Field(None, alias="sleepDebtHours")
    sleep_debt_category: str | None = Field(None, alias="sleepDebtCategory")


class TrendOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    athlete_id: int = Field(alias="athleteId")
    name: str
    from_: date = Field(alias="from")
    to: date
    hidden: list[str] = Field(default_factory=list, description=_HIDDEN)
    days: list[TrendDayOut]
