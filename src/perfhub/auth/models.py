from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow

ROLES = ("athlete", "coach", "admin")


class User(Base):
    __tablename__ = "user_account"
    # SQLite would otherwise hand an erased person's id to the next account, and the access log
    # keeps erasure records by id.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    # Per-signal vendor priority (DESIGN §2); null means the installation default.
    source_priority: Mapped[list[str] | None] = mapped_column(JsonType, nullable=True)
    # Minutes the athlete set (PATCH /me); null: estimated from their own nights
    # (readiness.engine.sleep_debt.daily_need).
    sleep_need_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # An argon2id hash (auth.passwords); null: the person has no password and cannot sign in
    # to the web pages (API tokens still work).
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    # Null for service tokens, which act for no person.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True, index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    # Kept in step with revoked_at: a process still running the release before 0006 reads only
    # this flag during a rolling upgrade, and must refuse a token the new release revoked.
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Throttled (service.LAST_USED_RESOLUTION): at most one write per token per interval.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Null: never expires. Valid while now < expires_at.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The lifetime asked for at issue, so that a rotation issues the same policy again.
    lifetime_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set once rotated: a token is rotated at most once, so a leaked old token cannot fork
    # a second line of successors during its grace period.
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_token.id", ondelete="SET NULL"), nullable=True
    )


class WebSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so
    that signing out (deleting the row) ends the session wherever the cookie was copied to."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Throttled like ApiToken.last_used_at; the idle timeout counts from it.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginFailure(Base):
    """One wrong password, kept for the rate-limit window. Keyed by a hash of the email so that
    the table does not collect the addresses people mistyped."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
