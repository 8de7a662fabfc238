"""Passwords for the web pages: argon2id hashes (argon2-cffi, RFC 9106 parameters), a policy a
person can meet, and a check that costs the same whether or not the email exists."""

from __future__ import annotations

import contextlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.errors import Unprocessable

MIN_LENGTH = 10
# argon2 takes any length, but hashing megabytes per attempt would be a cheap way to burn CPU.
MAX_LENGTH = 256

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Compared against when the email is unknown, so that the answer takes as long as for a
    # real account and timing does not tell which addresses have one. Made on first use: a hash
    # costs a fifth of a second, which every CLI start would otherwise pay.
    return _hasher.hash(secrets.token_urlsafe(16))


def check_policy(password: str, email: str) -> str:
    """``password`` if a person may choose it, else :class:`Unprocessable` saying why."""
    problem = None
    if len(password) < MIN_LENGTH:
        problem = f"a password needs at least {MIN_LENGTH} characters"
    elif len(password) > MAX_LENGTH:
        problem = f"a password may have at most {MAX_LENGTH} characters"
    elif password.strip().lower() == email.strip().lower():
        problem = "a password must not be the email address"
    if problem is not None:
        raise Unprocessable(problem, [{"loc": ["password"], "msg": problem}])
    return password


def set_password(session: Session, user: User, password: str) -> None:
    """Hash and store ``password`` for ``user`` (checked against the policy first)."""
    check_policy(password, user.email)
    user.password_hash = _hasher.hash(password)
    session.flush()


def hash_password(password: str) -> str:
    """The argon2id hash to store for ``password`` (which the caller has checked or generated)."""
    return _hasher.hash(password)


def generate_password() -> str:
    """A random password for demo and invited accounts: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def verify_password(session: Session, user: User | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s. Rehashes on success when the parameters have grown."""
    stored = user.password_hash if user is not None else None
    if user is None or stored is None or len(password) > MAX_LENGTH:
        _burn(password[:MAX_LENGTH])
        return False
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return True


def _burn(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password)
