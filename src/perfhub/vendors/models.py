from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, UTCDateTime, utcnow


class VendorConnection(Base):
    """An athlete's link to a vendor account. Tokens are stored encrypted (SecretBox)."""

    __tablename__ = "vendor_connection"
    __table_args__ = (UniqueConstraint("user_id", "vendor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # linked | needs_relink | revoked
    vendor_user_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    scope: Mapped[str | None] = mapped_column(String(500), nullable=True)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # History backfill started by a link: progress the athlete can watch in ``GET /connections``.
    # queued | running | done | failed
    backfill_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    backfill_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    backfill_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    backfill_days_done: Mapped[int | None] = mapped_column(Integer, nullable=True)
    backfill_records: Mapped[int | None] = mapped_column(Integer, nullable=True)
    backfill_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    backfill_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    backfill_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OAuthState(Base):
    """A pending link: single use, expiring, bound to the athlete. Only a hash of the state is kept."""

    __tablename__ = "oauth_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    code_verifier: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookReceipt(Base):
    """One accepted vendor notification, keyed for deduplication (WHOOP trace_id, Oura object+event)."""

    __tablename__ = "webhook_receipt"
    __table_args__ = (UniqueConstraint("vendor", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
