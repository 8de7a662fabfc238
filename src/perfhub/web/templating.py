"""Rendering pages: one Jinja2 environment, the layout's context, and cache-busted static URLs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from perfhub.auth.models import User
from perfhub.web.navigation import NavItem, navigation_for
from perfhub.web.security import CSRF_FIELD, csrf_token, finish_page

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))


@cache
def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: browsers may cache it for ever, and still see a new release."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


templates.env.globals["static_url"] = static_url
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD


@dataclass(frozen=True)
class Viewer:
    """Who the layout is drawn for."""

    id: int
    name: str
    email: str
    role: str

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.name or user.email, user.email, user.role)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    status_code: int = 200,
    title: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """A page: ``template`` inside the layout, for ``user`` (None: signed out)."""
    viewer = Viewer.of(user) if user is not None else None
    nav: list[NavItem] = navigation_for(viewer.role) if viewer is not None else []
    page: dict[str, Any] = {
        "request": request,
        "viewer": viewer,
        "nav": nav,
        "current_path": request.url.path,
        "csrf_token": csrf_token(request),
        "page_title": title,
    }
    page.update(context or {})
    response: HTMLResponse = templates.TemplateResponse(
        request, template, page, status_code=status_code, headers=headers
    )
    return finish_page(request, response)
