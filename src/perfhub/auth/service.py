"""Users, bearer tokens and who a caller is. Services flush; the caller's boundary commits."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import ROLES, ApiToken, User
from perfhub.core.db import utcnow
from perfhub.core.errors import Conflict, NotFound, Unauthorized, Unprocessable

TOKEN_PREFIX = "ph_"
LAST_USED_RESOLUTION = timedelta(minutes=5)
SCOPES = ("ingest",)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a person with a role, or a service with scopes."""

    token_id: int
    user_id: int | None
    role: str | None
    scopes: tuple[str, ...]

    @property
    def is_service(self) -> bool:
        return self.user_id is None


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of entropy, so a fast hash is enough to make a leaked table useless.
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def validate_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Unprocessable(
            f"unknown time zone {tz!r}", [{"loc": ["tz"], "msg": "unknown IANA zone"}]
        ) from exc
    return tz


def create_user(session: Session, email: str, role: str, name: str = "", tz: str = "UTC") -> tuple[User, str]:
    """Create a user and their first token; the token is returned once and stored hashed."""
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise Unprocessable(f"not an email address: {email!r}", [{"loc": ["email"], "msg": "invalid email"}])
    if role not in ROLES:
        raise Unprocessable(
            f"role must be one of {', '.join(ROLES)}", [{"loc": ["role"], "msg": "invalid role"}]
        )
    validate_timezone(tz)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, role=role, name=name or email.split("@")[0], tz=tz)
    session.add(user)
    session.flush()
    token = issue_token(session, name=f"{email} login", user_id=user.id, scopes=())
    return user, token


def issue_token(session: Session, name: str, user_id: int | None, scopes: tuple[str, ...] | list[str]) -> str:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise Unprocessable(
            f"unknown scope(s): {', '.join(unknown)}", [{"loc": ["scope"], "msg": "unknown scope"}]
        )
    if user_id is None and not scopes:
        raise Unprocessable("a service token needs at least one scope")
    token = _new_token()
    session.add(
        ApiToken(
            name=name,
            token_hash=hash_token(token),
            prefix=token[: len(TOKEN_PREFIX) + 4],
            user_id=user_id,
            scopes=list(scopes),
        )
    )
    session.flush()
    return token


def authenticate(session: Session, token: str) -> Principal:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked:
        raise Unauthorized("invalid or revoked token")
    role = None
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None:
            raise Unauthorized("invalid or revoked token")
        role = user.role
    now = utcnow()
    # Coarse on purpose: a write per request would serialise every read on SQLite.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return Principal(token_id=row.id, user_id=row.user_id, role=role, scopes=tuple(row.scopes or ()))


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user
