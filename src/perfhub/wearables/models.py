from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, UTCDateTime, utcnow

# A connection that still stands for its vendor account: webhooks route to it, polls use it.
LIVE_STATUSES = ("linked", "needs_relink")
_LIVE = "status IN ('linked', 'needs_relink')"


class VendorConnection(Base):
    """An athlete's link to a vendor account. Tokens are stored encrypted (SecretBox).

    One vendor account belongs to one athlete at a time: at most one live connection per
    ``(vendor, vendor_user_id)``. Otherwise a webhook could not tell whose night it carries.
    """

    __tablename__ = "vendor_connection"
    __table_args__ = (
        UniqueConstraint("user_id", "vendor"),
        Index(
            "uq_vendor_connection_live_account",
            "vendor",
            "vendor_user_id",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
    )

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
    # Why the status is what it is, for the athlete: moved | unlinked | refresh_refused (None
    # while linked). "moved": the vendor account was linked to another athlete, who confirmed.
    status_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
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
    # When a chunk waiting out a long vendor rate limit is due again: kept here so that the
    # wait survives the process that scheduled it.
    backfill_resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OAuthState(Base):
    """A pending link: single use, expiring, bound to the athlete who started it and to the
    browser that did (a cookie nonce). Only hashes of the state, nonce and completion are kept;
    what is held for the athlete's confirmation (the vendor's code, or its tokens) is sealed.

    Stages: started → the vendor sent a browser back (``returned_at``): either linked at once
    (``used_at``), or held — the code (a browser without the cookie: the starter completes with
    the proof shown there) or the tokens (the account is another athlete's: the starter
    confirms the move) — until completed or expired."""

    __tablename__ = "oauth_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    code_verifier: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    browser_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    move_existing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    held_code: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    completion_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    held_tokens: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed JSON
    held_vendor_user_id: Mapped[str | None] = mapped_column(String(200), nullable=True)


class WebhookReceipt(Base):
    """One accepted vendor notification, keyed for deduplication (WHOOP trace_id, Oura object+event)."""

    __tablename__ = "webhook_receipt"
    __table_args__ = (UniqueConstraint("vendor", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
