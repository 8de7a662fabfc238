"""FastAPI dependencies shared by every router: the request's session and its caller.

The caller is authenticated in a short transaction of its own, and each endpoint opens and
commits its unit of work inside its own body (``with uow() as session:``). A transaction is
therefore never held across FastAPI's hops between worker threads, where a request holding
SQLite's single write lock could wait behind requests waiting for that lock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.auth.service import Principal, authenticate
from perfhub.core.db import session_scope
from perfhub.core.errors import Forbidden, Unauthorized
from perfhub.core.limits import MAX_ID

_bearer = HTTPBearer(auto_error=False)

# Query parameters shared by every per-athlete read endpoint.
FromQuery = Query(None, alias="from", description="first day, YYYY-MM-DD (default: 29 days before `to`)")
ToQuery = Query(None, alias="to", description="last day, YYYY-MM-DD, inclusive (default: today)")
UserQuery = Query(
    None, alias="userId", gt=0, le=MAX_ID, description="another athlete's id (coaches and admins)"
)


class UnitOfWork:
    """The request boundary: ``with uow() as session:`` commits on success, rolls back on error."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __call__(self) -> AbstractContextManager[Session]:
        return session_scope(self._sessions)


def get_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.sessions)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing bearer token")
    checked: Principal | None = getattr(request.state, "principal", None)
    if checked is not None and checked.user_id is None:
        # The edge already authenticated this request before reading its body (core.limits);
        # a service token has no person to load, so the ingest path skips a second transaction.
        request.state.user = None
        return checked
    # The token's expiry and revocation are checked here on every request, and its last use is
    # recorded (throttled) in this same short transaction, so endpoints need not care.
    with session_scope(request.app.state.sessions) as session:
        principal = authenticate(session, credentials.credentials)
        # Load the person in the same short transaction; require_user hands it on.
        request.state.user = session.get(User, principal.user_id) if principal.user_id is not None else None
        return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_user(request: Request, principal: PrincipalDep) -> User:
    """A person (athlete, coach or admin); service tokens are refused."""
    if principal.user_id is None:
        raise Forbidden("this endpoint needs a user token, not a service token")
    user: User | None = request.state.user
    if user is None:
        raise Unauthorized("invalid token")
    return user  # detached: read its columns, do not lazy-load relations


CurrentUser = Annotated[User, Depends(require_user)]


def require_scope(scope: str) -> Callable[[Principal], Principal]:
    def _check(principal: PrincipalDep) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"this endpoint needs a service token with scope '{scope}'")
        return principal

    return _check
