"""Signing in and out, and the home page each role lands on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from perfhub.auth.sessions import SESSION_LIFETIME, WRONG_CREDENTIALS, end_session, sign_in
from perfhub.core.deps import UowDep
from perfhub.core.errors import TooManyRequests
from perfhub.web.deps import CsrfChecked, OptionalViewer
from perfhub.web.navigation import home_for
from perfhub.web.security import (
    SESSION_COOKIE,
    clear_session_cookie,
    finish_page,
    safe_next,
    set_session_cookie,
)
from perfhub.web.templating import render

router = APIRouter()


def _redirect(request: Request, target: str) -> Response:
    return finish_page(request, RedirectResponse(target, status_code=303))


def _login_page(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    error: str = "",
    notice: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "login.html",
        {"next_path": next_path, "email": email, "error": error, "notice": notice},
        status_code=status_code,
        title="Sign in",
        headers=headers,
    )


@router.get("/")
def home(request: Request, viewer: OptionalViewer) -> Response:
    """The login form when signed out; the person's home page when signed in."""
    if viewer is None:
        return _login_page(request, next_path="/")
    return _redirect(request, home_for(viewer.role))


@router.get("/login")
def login_form(
    request: Request, viewer: OptionalViewer, next: str | None = None, signed_out: bool = False
) -> Response:
    target = safe_next(next)
    if viewer is not None:
        return _redirect(request, target if target != "/" else home_for(viewer.role))
    return _login_page(request, next_path=target, notice="You are signed out." if signed_out else "")


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    uow: UowDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    client = request.client.host if request.client is not None else "unknown"
    if not email.strip() or not password:
        return _login_page(
            request, next_path=target, email=email, error="Enter your email and password.", status_code=422
        )
    try:
        with uow() as session:
            signed = sign_in(session, email, password, client, now=request.app.state.runtime.clock())
    except TooManyRequests as exc:
        return _login_page(
            request,
            next_path=target,
            email=email,
            error=exc.detail,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if signed is None:
        return _login_page(request, next_path=target, email=email, error=WRONG_CREDENTIALS, status_code=401)
    response = _redirect(request, target if target != "/" else home_for(signed.user.role))
    set_session_cookie(request, response, signed.token, int(SESSION_LIFETIME.total_seconds()))
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, uow: UowDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with uow() as session:
            end_session(session, token)
    response = _redirect(request, "/login?signed_out=true")
    clear_session_cookie(response)
    return response
