"""Who is calling: the bearer token's principal, the person behind it, and scope checks.

The caller is authenticated in a short transaction of its own, before the endpoint opens its
unit of work (see ``perfhub.core.deps``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.auth.service import Principal, authenticate, authenticate_person
from perfhub.core.db import session_scope
from perfhub.core.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False)


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
        # The person comes in the same statement as the token; require_user hands it on.
        principal, request.state.user = authenticate_person(session, credentials.credentials)
        return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_user(request: Request, principal: PrincipalDep) -> User:
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


def authenticate_in_own_transaction(sessions: sessionmaker[Session], token: str) -> Principal:
    """For the HTTP edge (core.limits), which authenticates before reading a request's body."""
    with session_scope(sessions) as session:
        return authenticate(session, token)
