"""FastAPI dependencies shared by every router: the request's session and its caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.auth.service import Principal, authenticate
from perfhub.core.db import session_scope
from perfhub.core.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the handler returns normally."""
    with session_scope(request.app.state.sessions) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing bearer token")
    return authenticate(session, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_user(session: SessionDep, principal: PrincipalDep) -> User:
    """A person (athlete, coach or admin); service tokens are refused."""
    if principal.user_id is None:
        raise Forbidden("this endpoint needs a user token, not a service token")
    user = session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized("invalid or revoked token")
    return user


CurrentUser = Annotated[User, Depends(require_user)]


def require_scope(scope: str):  # type: ignore[no-untyped-def]
    def _check(principal: PrincipalDep) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"this endpoint needs a service token with scope '{scope}'")
        return principal

    return _check
