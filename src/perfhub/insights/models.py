from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow


class WeeklyInsight(Base):
    """One athlete's ISO week (their own calendar): its figures and sentences (docs/weekly.md).

    Kept as history; recomputed in place when the data of its week changes (``inputs_hash``)."""

    __tablename__ = "weekly_insight"
    __table_args__ = (UniqueConstraint("user_id", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(String(8))  # YYYY-Www: sorts as the weeks do
    figures: Mapped[dict[str, Any]] = mapped_column(JsonType)
    sentences: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    inputs_hash: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
