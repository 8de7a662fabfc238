from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow


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
