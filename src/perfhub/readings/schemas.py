"""The ingest API's bodies, validated to physiological ranges before anything is stored.

The normalize stage validates each landed payload with these same models, so whatever they
accept must also be storable: what would fail there (a capture time before year 1 in UTC, a
string PostgreSQL cannot hold) is refused here, with a 422, rather than dead-lettered later.
Numbers are JSON numbers: ``true`` is not user 1, nor ``"61.5"`` an rMSSD.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    model_validator,
)

from perfhub.core.bounds import MAX_ID
from perfhub.core.dates import EARLIEST_DATE

# Every source a canonical row can come from: the linkable vendors (perfhub.wearables registers
# them and checks they are here), then Apple Health and manual entries, which no link feeds.
Vendor = Literal["oura", "whoop", "google", "apple", "manual"]
VENDORS: tuple[str, ...] = get_args(Vendor)
EARLIEST_CAPTURE = datetime.combine(EARLIEST_DATE, datetime.min.time(), tzinfo=UTC)


def _iso_date(value: Any) -> Any:
    # Only "YYYY-MM-DD": numbers or datetimes silently coerced to dates hide client bugs.
    if isinstance(value, str) and len(value) == 10:
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


def _storable_text(value: str) -> str:
    # PostgreSQL text and JSONB cannot hold NUL, and a lone surrogate cannot be encoded at all.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from exc
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# Strict: JSON numbers only. An int is still a valid float; a bool or a numeric string is not.
Number = Annotated[float, Strict()]
UserId = Annotated[StrictInt, Field(gt=0, le=MAX_ID)]
Text = Annotated[str, AfterValidator(_storable_text)]


class _IngestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    user_id: UserId = Field(alias="userId")
    date: IsoDate
    vendor: Vendor
    captured_at: AwareDatetime | None = Field(default=None, alias="capturedAt")
    source_device: Text | None = Field(default=None, alias="sourceDevice", max_length=200)

    @model_validator(mode="after")
    def _plausible_dates(self) -> _IngestBody:
        now = datetime.now(UTC)
        # The earliest zone is UTC+14, so a wake date can be at most one day past UTC today.
        if self.date < EARLIEST_DATE or self.date > now.date() + timedelta(days=1):
            raise ValueError(f"date {self.date} is outside {EARLIEST_DATE}..tomorrow")
        # Compared, never converted: converting 0001-01-01T00:00+14:00 to UTC overflows, which is
        # what made such a reading fail in the normalize stage after it had been accepted.
        if self.captured_at is not None and self.captured_at < EARLIEST_CAPTURE:
            raise ValueError(f"capturedAt is before {EARLIEST_DATE}")
        if self.captured_at is not None and self.captured_at > now + timedelta(minutes=5):
            raise ValueError("capturedAt is in the future")
        return self


class HrvIn(_IngestBody):
    rmssd: Number | None = Field(default=None, alias="rMSSD", ge=1, le=300)
    ln_rmssd: Number | None = Field(default=None, alias="lnRMSSD", ge=0, le=math.log(300))
    sdnn: Number | None = Field(default=None, ge=1, le=300)
    resting_hr: Number | None = Field(default=None, alias="restingHr", ge=25, le=120)
    readiness_score: Number | None = Field(default=None, alias="readinessScore", ge=0, le=100)
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
    duration_min: Number = Field(alias="durationMin", ge=0, le=1440)
    efficiency_pct: Number | None = Field(default=None, alias="efficiencyPct", ge=0, le=100)
    latency_min: Number | None = Field(default=None, alias="latencyMin", ge=0, le=720)
    wake_count: StrictInt | None = Field(default=None, alias="wakeCount", ge=0, le=200)
    in_bed_min: Number | None = Field(default=None, alias="inBedMin", ge=0, le=1440)

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


# --------------------------------------------------------------------------------------------
# What the read endpoints answer: one row per wake date, field names as in docs/http-api.md
# --------------------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, from_attributes=True)


class SleepDayOut(_Out):
    user_id: int = Field(serialization_alias="userId")
    date: date
    duration_min: float = Field(serialization_alias="durationMin")
    efficiency_pct: float | None = Field(serialization_alias="efficiencyPct")
    latency_min: float | None = Field(serialization_alias="latencyMin")
    wake_count: int | None = Field(serialization_alias="wakeCount")
    vendor: str
    captured_at: datetime = Field(serialization_alias="capturedAt")


class HrvDayOut(_Out):
    user_id: int = Field(serialization_alias="userId")
    date: date
    rmssd_ms: float | None = Field(serialization_alias="rMSSD")
    ln_rmssd: float | None = Field(serialization_alias="lnRMSSD")
    sdnn_ms: float | None = Field(serialization_alias="sdnn")
    resting_hr: float | None = Field(serialization_alias="restingHr")
    # The vendor's own readiness score: disclosed with `readiness`, so null to a coach without it.
    readiness_score: float | None = Field(serialization_alias="readinessScore")
    # True while the vendor's own scores for the night are not final (WHOOP is still calibrating);
    # it is about that score, so it travels with it.
    vendor_calibrating: bool | None = Field(serialization_alias="vendorCalibrating")
    vendor: str
    captured_at: datetime = Field(serialization_alias="capturedAt")
