"""Users, bearer tokens and who a caller is. Services flush; the caller's boundary commits."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from perfhub.auth.models import ROLES, ApiToken, User
from perfhub.core.db import utcnow
from perfhub.core.errors import Conflict, NotFound, Unauthorized, Unprocessable

TOKEN_PREFIX = "ph_"
# last_used_at is written only when the stored value is older than this. Authentication runs on
# every request (the ingest path included), and a write per request would cost a row lock and
# a WAL flush on PostgreSQL and hold SQLite's single writer longer; a minute is as fine as
# "last used" needs to be for deciding which tokens are stale, at one write per token per minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCOPES = ("ingest",)
MAX_LIFETIME_DAYS = 3650
# How long a rotated token may keep working so that its clients can switch over; kept short
# because the point of rotating is usually that the old token may have leaked.
MAX_ROTATION_GRACE = timedelta(hours=1)
TokenStatus = Literal["active", "expired", "revoked"]


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
    token = issue_token(session, name=f"{email} login"[:200], user_id=user.id, scopes=())
    return user, token


def create_token(
    session: Session,
    name: str,
    user_id: int | None,
    scopes: Sequence[str],
    expires_in_days: int | None = None,
    *,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token: the row, and the token itself, which is returned once and stored hashed.

    ``user_id`` None makes a service token, which acts for no person and needs a scope.
    ``expires_in_days`` None makes a token that never expires.
    """
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise Unprocessable(
            f"unknown scope(s): {', '.join(unknown)}", [{"loc": ["scope"], "msg": "unknown scope"}]
        )
    if user_id is None and not scopes:
        raise Unprocessable("a service token needs at least one scope")
    name = name.strip()
    if not name or len(name) > 200:
        raise Unprocessable(
            "a token needs a name of 1 to 200 characters", [{"loc": ["name"], "msg": "invalid"}]
        )
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise Unprocessable(
            f"expiry must be 1 to {MAX_LIFETIME_DAYS} days",
            [{"loc": ["expiresInDays"], "msg": f"1 to {MAX_LIFETIME_DAYS}"}],
        )
    now = now or utcnow()
    token = _new_token()
    row = ApiToken(
        name=name,
        token_hash=hash_token(token),
        prefix=token[: len(TOKEN_PREFIX) + 4],
        user_id=user_id,
        scopes=list(scopes),
        revoked=False,
        created_at=now,
        lifetime_days=expires_in_days,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days is not None else None,
    )
    session.add(row)
    session.flush()
    return row, token


def issue_token(
    session: Session,
    name: str,
    user_id: int | None,
    scopes: tuple[str, ...] | list[str],
    expires_in_days: int | None = None,
) -> str:
    """:func:`create_token` for callers that need only the token."""
    return create_token(session, name, user_id, scopes, expires_in_days)[1]


def token_status(row: ApiToken, now: datetime) -> TokenStatus:
    if row.revoked_at is not None or row.revoked:
        return "revoked"
    # Valid up to, not including, its expiry instant.
    if row.expires_at is not None and now >= row.expires_at:
        return "expired"
    return "active"


def authenticate(session: Session, token: str) -> Principal:
    return authenticate_person(session, token)[0]


def authenticate_person(session: Session, token: str) -> tuple[Principal, User | None]:
    """:func:`authenticate`, with the token's person (None for a service token), read in the
    same statement as the token."""
    found = session.execute(
        select(ApiToken, User)
        .outerjoin(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if found is None:
        raise Unauthorized("invalid token")
    row, user = found
    now = utcnow()
    status = token_status(row, now)
    if status != "active":
        # Only the holder of the token learns this, and it tells them to get a new one.
        raise Unauthorized(f"token {status}")
    role = None
    if row.user_id is not None:
        if user is None:
            raise Unauthorized("invalid token")
        role = user.role
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        # Guarded, so that of the requests racing past the check above only one writes.
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == row.id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    principal = Principal(token_id=row.id, user_id=row.user_id, role=role, scopes=tuple(row.scopes or ()))
    return principal, user


def get_token(session: Session, token_id: int, *, for_update: bool = False) -> ApiToken:
    """``for_update`` locks the row until commit (PostgreSQL; SQLite's transactions are already
    serialised): two concurrent rotations must not both see the token unrotated."""
    row = session.get(ApiToken, token_id, with_for_update=for_update)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    return row


def token_of(session: Session, actor: User, token_id: int, *, for_update: bool = False) -> ApiToken:
    """A token ``actor`` may manage: their own, or any for an admin. Anyone else's is 404, the
    same as a token that does not exist, so that ids cannot be probed for existence."""
    row = session.get(ApiToken, token_id, with_for_update=for_update)
    if row is None or (actor.role != "admin" and row.user_id != actor.id):
        raise NotFound(f"no token with id {token_id}")
    return row


def list_tokens(
    session: Session, *, user_id: int | None = None, service: bool = False, everything: bool = False
) -> list[ApiToken]:
    """Tokens newest first: every one, a user's, or (``service``) the service tokens."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if not everything:
        query = query.where(ApiToken.user_id.is_(None) if service else ApiToken.user_id == user_id)
    return list(session.scalars(query))


def revoke_token(session: Session, row: ApiToken, *, now: datetime | None = None) -> ApiToken:
    """Revoke at once. Revoking again keeps the first revocation time."""
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
    row.revoked = True
    session.flush()
    return row


def rotate_token(
    session: Session, row: ApiToken, grace: timedelta = timedelta(0), *, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """Replace a live token by a new one with the same name, owner, scopes and lifetime.

    Without ``grace`` the old token is revoked at once; with it, the old token expires
    ``grace`` from now (or at its own expiry, if sooner), so clients can switch over. Load
    ``row`` with ``for_update=True``.
    """
    if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
        limit = int(MAX_ROTATION_GRACE.total_seconds() // 60)
        raise Unprocessable(
            f"grace must be 0 to {limit} minutes", [{"loc": ["graceMinutes"], "msg": f"0 to {limit}"}]
        )
    now = now or utcnow()
    if row.replaced_by_id is not None:
        raise Conflict(f"token {row.id} was already rotated (to token {row.replaced_by_id})")
    status = token_status(row, now)
    if status != "active":
        raise Conflict(f"token {row.id} is {status}; issue a new one instead")
    new, token = create_token(session, row.name, row.user_id, row.scopes, row.lifetime_days, now=now)
    row.replaced_by_id = new.id
    if grace:
        end = now + grace
        row.expires_at = end if row.expires_at is None else min(row.expires_at, end)
        session.flush()
    else:
        revoke_token(session, row, now=now)
    return new, token


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def athlete_ids(session: Session) -> list[int]:
    """Every athlete's id, in id order (batch jobs walk them in chunks)."""
    return list(session.scalars(select(User.id).where(User.role == "athlete").order_by(User.id)))


def users_by_ids(session: Session, ids: Sequence[int]) -> list[User]:
    return list(session.scalars(select(User).where(User.id.in_(ids))))
