from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow

AUDIT_KINDS = ("read", "erasure")


class AuditEntry(Base):
    """One read of an athlete's data by someone other than that athlete (``kind`` "read"), or
    the record that an athlete's account was erased ("erasure": the only row that outlives it,
    which is why ``subject_id`` is not a foreign key)."""

    __tablename__ = "audit_log"
    # The log is paged newest first by id, for a subject (an athlete's own log) or for an actor
    # (a coach's reads): each index serves its page from the first row, however long the log.
    __table_args__ = (
        Index("ix_audit_log_subject_id_id", "subject_id", "id"),
        Index("ix_audit_log_actor_id_id", "actor_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    signals: Mapped[list[str]] = mapped_column(JsonType)
    path: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16), default="read", server_default="read")
