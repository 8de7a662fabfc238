"""Completed training sessions: entered by the athlete or made from a wearable's workout."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, UTCDateTime, utcnow


class CompletedSession(Base):
    """One session done, with its load (session RPE × minutes, Foster 2001).

    A planned session is completed at most once (``planned_session_id`` is unique), and a
    wearable workout becomes at most one completed session (``workout_id`` is unique): when the
    athlete logs a session by hand and the watch records it too, both land on this one row.
    """

    __tablename__ = "completed_session"
    __table_args__ = (Index("ix_completed_session_athlete_id_date", "athlete_id", "date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    sport: Mapped[str] = mapped_column(String(60))
    duration_min: Mapped[float] = mapped_column(Float)
    rpe: Mapped[float] = mapped_column(Float)
    # True when the RPE was estimated from a wearable's effort measure, not said by the athlete.
    rpe_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    load: Mapped[float] = mapped_column(Float)
    planned_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("planned_session.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    workout_id: Mapped[int | None] = mapped_column(
        ForeignKey("workout.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    # manual | whoop | oura | apple: where the session was first known from.
    source: Mapped[str] = mapped_column(String(16))
    entered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
