"""Who is browsing, and the checks every page and form goes through.

The signed-in person is loaded from the session cookie in a short transaction of its own,
as the API loads a token's person (``perfhub.auth.deps``), before the page opens its unit of
work. Pages that show athlete data declare the read with :func:`PageRead`: the same
``AthleteRead`` dependency and privacy policy as the API, with the cookie as the reader.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import Depends, Request

from perfhub.auth.models import User
from perfhub.auth.sessions import user_for_session
from perfhub.core.db import session_scope
from perfhub.core.errors import Forbidden, Unauthorized
from perfhub.privacy.deps import AthleteRead
from perfhub.teams.schemas import SIGNALS
from perfhub.web.security import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_problem


class SignInRequired(Unauthorized):
    """A page needs a signed-in person; the page error handler sends the browser to the login form."""


class CsrfRefused(Forbidden):
    """A form post that this site's page did not send."""


def optional_session_user(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with session_scope(request.app.state.sessions) as session:
        user = user_for_session(session, token, now=request.app.state.runtime.clock())
    request.state.session_user = user
    return user  # detached: read its columns, do not lazy-load relations


def session_user(request: Request) -> User:
    user = optional_session_user(request)
    if user is None:
        raise SignInRequired("Sign in to see this page.")
    return user


OptionalViewer = Annotated[User | None, Depends(optional_session_user)]
Viewer = Annotated[User, Depends(session_user)]


def athlete_user(user: Viewer) -> User:
    if user.role != "athlete":
        raise Forbidden("This page is for athletes; your account is a " + user.role + " account.")
    return user


AthleteViewer = Annotated[User, Depends(athlete_user)]


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request this site's own page did not send (403 page)."""
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # Starlette keeps the parsed form on the request, so the route's Form() reads it again for free.
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    problem = csrf_problem(request, submitted)
    if problem is not None:
        raise CsrfRefused(f"This form was refused because {problem}. Go back, reload the page and try again.")


CsrfChecked = Depends(check_csrf)


def PageRead(signals: Collection[str] = SIGNALS, *, own: bool = False, dated: bool = False) -> Any:
    """:func:`perfhub.privacy.deps.AthleteRead` for a page: the reader is the session's person."""
    return AthleteRead(signals, own=own, dated=dated, reader=session_user)
