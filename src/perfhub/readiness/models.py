from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow


class ReadinessSnapshotRow(Base):
    """One athlete-day under one algorithm version; a new version keeps the old rows."""

    __tablename__ = "readiness_snapshot"
    __table_args__ = (UniqueConstraint("user_id", "date", "algorithm_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    algorithm_version: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Why there is no score: calibrating | no_recent_data.
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    drivers: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    components: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    # Flag codes (docs/readiness.md#flags), stored so that a team table can filter on them.
    flags: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default=text("'[]'"))
    baselines: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    inputs_hash: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
