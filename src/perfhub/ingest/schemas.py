"""The ingest API's bodies, validated to physiological ranges before anything is stored."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

VENDORS = ("oura", "whoop", "google", "apple", "manual")
Vendor = Literal["oura", "whoop", "google", "apple", "manual"]
EARLIEST_DATE = date(2000, 1, 1)


def _iso_date(value: Any) -> Any:
    # Only "YYYY-MM-DD": numbers or datetimes silently coerced to dates hide client bugs.
    if isinstance(value, str) and len(value) == 10:
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _IngestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    user_id: int = Field(alias="userId", gt=0)
    date: IsoDate
    vendor: Vendor
    captured_at: AwareDatetime | None = Field(default=None, alias="capturedAt")
    source_device: str | None = Field(default=None, alias="sourceDevice", max_length=200)

    @model_validator(mode="after")
    def _plausible_dates(self) -> _IngestBody:
        now = datetime.now(UTC)
        # The earliest zone is UTC+14, so a wake date can be at most one day past UTC today.
        if self.date < EARLIEST_DATE or self.date > now.date() + timedelta(days=1):
            raise ValueError(f"date {self.date} is outside {EARLIEST_DATE}..tomorrow")
        if self.captured_at is not None and self.captured_at > now + timedelta(minutes=5):
            raise ValueError("capturedAt is in the future")
        return self


class HrvIn(_IngestBody):
    rmssd: float | None = Field(default=None, alias="rMSSD", ge=1, le=300)
    ln_rmssd: float | None = Field(default=None, alias="lnRMSSD", ge=0, le=math.log(300))
    sdnn: float | None = Field(default=None, ge=1, le=300)
    resting_hr: float | None = Field(default=None, alias="restingHr", ge=25, le=120)
    readiness_score: float | None = Field(default=None, alias="readinessScore", ge=0, le=100)
    # The vendor says its own scores for this night are not final yet (WHOOP ``user_calibrating``).
    vendor_calibrating: StrictBool | None = Field(default=None, alias="vendorCalibrating")

    @model_validator(mode="after")
    def _consistent(self) -> HrvIn:
        if self.rmssd is None and self.ln_rmssd is None and self.sdnn is None and self.resting_hr is None:
            raise ValueError("give at least one of rMSSD, lnRMSSD, sdnn, restingHr")
        if (
            self.rmssd is not None
            and self.ln_rmssd is not None
            and abs(math.log(self.rmssd) - self.ln_rmssd) > 0.01
        ):
            raise ValueError("lnRMSSD does not equal ln(rMSSD)")
        if self.ln_rmssd is not None and self.rmssd is None and not 1 <= math.exp(self.ln_rmssd) <= 300:
            raise ValueError("lnRMSSD is outside ln(1)..ln(300)")
        return self


class SleepIn(_IngestBody):
    duration_min: float = Field(alias="durationMin", ge=0, le=1440)
    efficiency_pct: float | None = Field(default=None, alias="efficiencyPct", ge=0, le=100)
    latency_min: float | None = Field(default=None, alias="latencyMin", ge=0, le=720)
    wake_count: int | None = Field(default=None, alias="wakeCount", ge=0, le=200)
    in_bed_min: float | None = Field(default=None, alias="inBedMin", ge=0, le=1440)

    @model_validator(mode="after")
    def _consistent(self) -> SleepIn:
        if self.in_bed_min is not None and self.in_bed_min < self.duration_min:
            raise ValueError("inBedMin is shorter than durationMin")
        return self


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


MAX_BATCH = 1000


class BatchIn(BaseModel):
    """Many nights at once (a bridge or phone app catching up). All or nothing."""

    model_config = ConfigDict(extra="forbid")

    hrv: list[HrvIn] = Field(default_factory=list, max_length=MAX_BATCH)
    sleep: list[SleepIn] = Field(default_factory=list, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _not_empty(self) -> BatchIn:
        if not self.hrv and not self.sleep:
            raise ValueError("give at least one hrv or sleep reading")
        if len(self.hrv) + len(self.sleep) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} readings per batch")
        return self


class BatchAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    accepted: int
