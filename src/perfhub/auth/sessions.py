"""Signing in to the web pages: the failed-login rate limit, and browser sessions.

A session is a random token in an ``HttpOnly`` cookie; the database keeps its SHA-256, its
owner and its deadlines, so that signing out, or an admin removing the person, ends it at
once. Services flush; the caller's boundary commits.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from perfhub.auth.models import LoginFailure, User, WebSession
from perfhub.auth.passwords import verify_password
from perfhub.core.db import utcnow
from perfhub.core.errors import TooManyRequests

SESSION_LIFETIME = timedelta(days=14)
# Signed out after this long without a request, whatever is left of the lifetime.
IDLE_TIMEOUT = timedelta(days=3)
# last_seen_at is written at most once per interval (one write per page view would hold
# SQLite's single writer for nothing).
SEEN_RESOLUTION = timedelta(minutes=1)

# Failed logins are counted over a sliding window: a guesser gets this many tries per account
# from one address, and one address this many over all accounts, before waiting.
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_CLIENT = 30

WRONG_CREDENTIALS = "That email and password do not match an account."


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    expires_at: datetime


def sign_in(
    session: Session, email: str, password: str, client: str, *, now: datetime | None = None
) -> SignedIn | None:
    """Check a password and start a session. None for a wrong email or password (the same
    answer for both; the failure is recorded, so commit it); :class:`TooManyRequests` while the
    limit holds."""
    now = now or utcnow()
    email_hash = hash_secret(email.strip().lower())
    client = client[:64]
    _check_rate_limit(session, email_hash, client, now)
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(session, user, password) or user is None:
        session.add(LoginFailure(email_hash=email_hash, client=client, at=now))
        session.flush()
        return None
    # A correct password clears this account's count, so that a person who mistyped a few
    # times is not held back next time.
    session.execute(delete(LoginFailure).where(LoginFailure.email_hash == email_hash))
    token, expires_at = start_session(session, user, now=now)
    return SignedIn(user, token, expires_at)


def confirm_password(
    session: Session, user: User, password: str, client: str, *, now: datetime | None = None
) -> bool:
    """Whether ``password`` is ``user``'s, for a signed-in form that asks again (changing the
    password). Wrong answers count toward the same limit as sign-in: a stolen session must not
    become a way to guess the password. :class:`TooManyRequests` while the limit holds."""
    now = now or utcnow()
    email_hash = hash_secret(user.email)
    client = client[:64]
    _check_rate_limit(session, email_hash, client, now)
    if verify_password(session, user, password):
        return True
    session.add(LoginFailure(email_hash=email_hash, client=client, at=now))
    session.flush()
    return False


def _check_rate_limit(session: Session, email_hash: str, client: str, now: datetime) -> None:
    since = now - FAILURE_WINDOW
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    recent = select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.at >= since)
    for query, limit in (
        (
            recent.where(LoginFailure.email_hash == email_hash, LoginFailure.client == client),
            MAX_FAILURES_PER_ACCOUNT,
        ),
        (recent.where(LoginFailure.client == client), MAX_FAILURES_PER_CLIENT),
    ):
        count, oldest = session.execute(query).one()
        if count >= limit:
            wait = max(1, math.ceil((oldest + FAILURE_WINDOW - now).total_seconds()))
            minutes = math.ceil(wait / 60)
            raise TooManyRequests(
                f"Too many wrong passwords. Wait {minutes} minute{'s' if minutes != 1 else ''} "
                "and try again, or ask your administrator to reset your password.",
                retry_after=wait,
            )


def start_session(session: Session, user: User, *, now: datetime | None = None) -> tuple[str, datetime]:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    session.add(
        WebSession(
            token_hash=hash_secret(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return token, expires_at


def user_for_session(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The person a session cookie belongs to, or None if it is unknown, expired or idle."""
    now = now or utcnow()
    row = session.scalar(select(WebSession).where(WebSession.token_hash == hash_secret(token)))
    if row is None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        session.execute(
            update(WebSession)
            .where(WebSession.id == row.id, WebSession.last_seen_at <= now - SEEN_RESOLUTION)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    return session.get(User, row.user_id)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_secret(token)))


def end_all_sessions(session: Session, user_id: int) -> int:
    """Sign a person out everywhere (after a password change); how many sessions ended."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)
