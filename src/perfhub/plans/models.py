"""Planned sessions, the adjustments proposed for them, and every decision taken on one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow


class PlannedSession(Base):
    """A session as planned. It is never changed by an adjustment: the session as finally
    decided is this row, or the accepted adjustment's ``adjusted`` fields, so a revert restores
    the original exactly."""

    __tablename__ = "planned_session"
    __table_args__ = (
        Index("ix_planned_session_athlete_id_date", "athlete_id", "date"),
        # An imported calendar's events keep their UID: importing the file again updates them.
        UniqueConstraint("athlete_id", "external_uid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    sport: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))  # easy | moderate | hard | rest
    duration_min: Mapped[int] = mapped_column(Integer)
    # {"kind": "zone" | "ftp" | "pace" | "rpe", "value": number}; pace in seconds per km.
    intensity: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    planned_load: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | csv | ics
    external_uid: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SessionAdjustment(Base):
    """The readiness-guided change proposed for one planned session, and where it stands.

    ``status`` is ``proposed`` until someone decides, then ``accepted`` or ``reverted`` (and
    may be decided again: each decision is an :class:`AdjustmentDecision`). New readiness data
    rewrites a proposed adjustment and never touches a decided one.
    """

    __tablename__ = "session_adjustment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("planned_session.id", ondelete="CASCADE"), unique=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))
    original: Mapped[dict[str, Any]] = mapped_column(JsonType)
    adjusted: Mapped[dict[str, Any]] = mapped_column(JsonType)
    diff: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    # The facts behind the proposal (readiness drivers and load figures, as codes and values);
    # the rationale is written from them when read, as much as the reader may see.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    readiness: Mapped[float | None] = mapped_column(Float, nullable=True)
    band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    algorithm_version: Mapped[str] = mapped_column(String(32))
    # What the proposal was made from (snapshot inputs, load and the session): unchanged → no rewrite.
    basis_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )


class AdjustmentDecision(Base):
    """One accept or revert: who, in which role, and when. Kept for as long as the session."""

    __tablename__ = "adjustment_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adjustment_id: Mapped[int] = mapped_column(
        ForeignKey("session_adjustment.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(String(16))  # accepted | reverted
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    actor_role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
