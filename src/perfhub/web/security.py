"""What keeps a browser session safe: the cookies, CSRF tokens and the headers every page carries.

CSRF uses the synchroniser-token pattern without server state: a form's token is an HMAC of
the browser's session cookie (or, before sign-in, of a random pre-session cookie), so a page
from another site can neither read nor compute it. A post must also not come from another
origin when the browser says where it comes from (``Origin``, ``Sec-Fetch-Site``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "perfhub_session"
# Set before sign-in, so that the login form itself is CSRF-protected (login CSRF would sign a
# victim into the attacker's account).
PRE_SESSION_COOKIE = "perfhub_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# Inline scripts and styles are refused: chart data travels in <script type="application/json">
# blocks, which are data, not code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self' https:; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages show personal data: no shared cache may keep them.
    "Cache-Control": "no-store",
}


def csrf_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"perfhub web csrf\x00" + secret_key.encode()).digest()


def _browser_secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)


def csrf_token(request: Request) -> str:
    """The token this browser's forms carry; starts a pre-session cookie if it has none yet."""
    secret = _browser_secret(request) or getattr(request.state, "new_pre_session", None)
    if secret is None:
        secret = secrets.token_urlsafe(24)
        request.state.new_pre_session = secret
    return _sign(request, secret)


def _sign(request: Request, secret: str) -> str:
    return hmac.new(request.app.state.csrf_key, secret.encode(), hashlib.sha256).hexdigest()


def csrf_problem(request: Request, submitted: str | None) -> str | None:
    """Why a state-changing request must be refused, or None when it may go ahead."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "it came from another site"
    origin = request.headers.get("origin")
    if origin is not None and origin != "null" and origin.rstrip("/") not in allowed_origins(request):
        return "it came from another site"
    secret = _browser_secret(request)
    if secret is None or not submitted or not hmac.compare_digest(_sign(request, secret), submitted):
        return "the form has expired or was not sent by this page"
    return None


def allowed_origins(request: Request) -> set[str]:
    own = f"{request.url.scheme}://{request.url.netloc}"
    base = urlsplit(request.app.state.settings.base_url)
    return {own, f"{base.scheme}://{base.netloc}"}


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.settings.base_url.startswith("https://")


def finish_page(request: Request, response: Response) -> Response:
    """Headers every page answer carries, and the pre-session cookie if this request made one."""
    response.headers.update(PAGE_HEADERS)
    new = getattr(request.state, "new_pre_session", None)
    if new is not None and SESSION_COOKIE not in request.cookies:
        response.set_cookie(
            PRE_SESSION_COOKIE, new, httponly=True, samesite="lax", secure=secure_cookies(request), path="/"
        )
    return response


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything else (another host, ``//evil``) is ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
