"""Errors as pages a person understands, for requests from a browser outside the API.

The API (``/api/v1``) and the operations endpoints always answer ``application/problem+json``;
a page asked for by a browser (``Accept: text/html``) gets a page that says what happened and
what to do next. A page that needs sign-in sends the browser to the login form and back.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from perfhub.auth.models import User
from perfhub.core.errors import PerfhubError, TooManyRequests
from perfhub.web.deps import optional_session_user
from perfhub.web.security import finish_page
from perfhub.web.templating import render

NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json", "/static/")

_HEADINGS = {
    400: "That request could not be read",
    401: "Please sign in",
    403: "You cannot do that here",
    404: "There is nothing here",
    409: "That clashes with what is already there",
    413: "That file is too large",
    422: "Some of what you entered cannot be used",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "perfhub is briefly unavailable",
}
_NEXT_STEPS = {
    403: "If you think you should have access, ask the athlete or your administrator.",
    404: "Check the address, or start again from your home page.",
    500: "Try again in a minute; if it keeps happening, tell your administrator.",
    503: "Try again in a minute.",
}


def is_page_request(request: Request) -> bool:
    path = request.url.path
    if path.startswith(NOT_PAGES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _viewer_of(request: Request) -> User | None:
    """Who is signed in, so that the error page still has their navigation; loaded here when the
    error came before any page dependency ran (an unknown address)."""
    if hasattr(request.state, "session_user"):
        user: User | None = request.state.session_user
        return user
    try:
        return optional_session_user(request)
    except Exception:
        # The error page must render even when the database is what failed.
        return None


def page_error(request: Request, error: PerfhubError) -> Response | None:
    """The page for ``error``, or None to let the API's problem+json answer it."""
    if not is_page_request(request):
        return None
    if error.status == 401 and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return finish_page(
            request, RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        )
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
    return render(
        request,
        "error.html",
        {
            "status": error.status,
            "heading": _HEADINGS.get(error.status, error.title),
            "detail": error.detail,
            "next_step": _NEXT_STEPS.get(error.status, ""),
        },
        user=_viewer_of(request),
        status_code=error.status,
        title=_HEADINGS.get(error.status, error.title),
        headers=headers,
    )
