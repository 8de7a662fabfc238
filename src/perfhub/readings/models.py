"""Canonical daily records: one row per athlete, wake date and vendor (DESIGN §2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow


class HrvDaily(Base):
    __tablename__ = "hrv_daily"
    __table_args__ = (UniqueConstraint("user_id", "date", "vendor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    vendor: Mapped[str] = mapped_column(String(32))
    # rMSSD and SDNN are different measures; both may be present but never stand in for each other.
    rmssd_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    ln_rmssd: Mapped[float | None] = mapped_column(Float, nullable=True)
    sdnn_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    resting_hr: Mapped[float | None] = mapped_column(Float, nullable=True)
    readiness_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The vendor says its own score is not final yet (WHOOP ``user_calibrating``).
    vendor_calibrating: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    source_device: Mapped[str | None] = mapped_column(String(200), nullable=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SleepDaily(Base):
    __tablename__ = "sleep_daily"
    __table_args__ = (UniqueConstraint("user_id", "date", "vendor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    vendor: Mapped[str] = mapped_column(String(32))
    duration_min: Mapped[float] = mapped_column(Float)
    efficiency_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    wake_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    in_bed_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RawEvent(Base):
    """The landing log: every accepted delivery exactly as it arrived, before normalisation."""

    __tablename__ = "raw_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # api | webhook | import | poll
    kind: Mapped[str] = mapped_column(String(32))  # hrv | sleep | vendor record type
    vendor: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True, index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Workout(Base):
    """A workout a wearable recorded, as the vendor describes it (one row per vendor record).

    The training domain turns workouts into completed sessions (matched to a planned session
    where one fits), so a workout is counted once whatever else the athlete logs. ``date`` is
    the local calendar day the workout started on, in the offset it was recorded in.
    """

    __tablename__ = "workout"
    __table_args__ = (
        UniqueConstraint("user_id", "vendor", "vendor_id"),
        # The matcher reads an athlete's workouts of some days.
        Index("ix_workout_user_id_date", "user_id", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    vendor: Mapped[str] = mapped_column(String(32))
    vendor_id: Mapped[str] = mapped_column(String(128))
    date: Mapped[date] = mapped_column(Date)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    utc_offset_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sport: Mapped[str] = mapped_column(String(60))
    duration_min: Mapped[float] = mapped_column(Float)
    # WHOOP's strain (0–21); Oura's own intensity (easy | moderate | hard); whatever else is sent.
    strain: Mapped[float | None] = mapped_column(Float, nullable=True)
    intensity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    average_hr: Mapped[float | None] = mapped_column(Float, nullable=True)
    energy_kj: Mapped[float | None] = mapped_column(Float, nullable=True)
    distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    source_device: Mapped[str | None] = mapped_column(String(200), nullable=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
