"""The account page: download everything perfhub holds about you, and delete your account.

The download streams the export service (``GET /api/v1/me/export``'s: one JSON document written
to a spooled file in one snapshot, then sent a block at a time) with the session cookie as the
reader. Deleting asks for the account's email, typed, as the confirmation, and then runs the
erasure service (``DELETE /api/v1/me``'s): linked wearables are revoked at the vendor, every row
about the person goes, and the access log keeps one record that an erasure happened. The
session goes with it; the browser lands on a page that says it is done.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import RedirectResponse, Response

from perfhub.auth.models import User
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound
from perfhub.privacy.deps import ReadRequest
from perfhub.profile.erasure import erase
from perfhub.profile.export import file_blocks, filename, spooled_export
from perfhub.wearables.vendors.registry import DISPLAY_NAMES
from perfhub.web.deps import CsrfChecked, OptionalViewer, PageRead, Viewer
from perfhub.web.security import clear_session_cookie, finish_page
from perfhub.web.templating import render

router = APIRouter()

# The viewer's own data, as GET /api/v1/me/export and DELETE /api/v1/me read it.
OwnData = Annotated[ReadRequest, PageRead(own=True)]

WHAT_GOES = {
    "athlete": "your nights of HRV and sleep, readiness, nudges, linked wearables (their access is "
    "revoked at the vendor), API tokens, team memberships and invitations, and the access log of "
    "who looked at your data",
    "coach": "your profile, API tokens, your place as coach of your teams (the teams and their "
    "athletes stay) and invitations you are named in",
    "admin": "your profile, API tokens, your place as coach of any team and invitations you are named in",
}


# What the export holds (perfhub.profile.export), in words.
WHAT_EXPORT = (
    "your profile, your nights of HRV and sleep, readiness, nudges, what your wearables and "
    "imports delivered, linked wearables, API tokens and sessions, teams and invitations, and the "
    "access log of who looked at your data"
)


def _page(
    request: Request, user: User, *, typed: str = "", error: str = "", status_code: int = 200
) -> Response:
    return render(
        request,
        "account.html",
        {
            "email": user.email,
            "what_goes": WHAT_GOES.get(user.role, WHAT_GOES["admin"]),
            "what_export": WHAT_EXPORT,
            "typed": typed,
            "error": error,
        },
        user=user,
        status_code=status_code,
        title="Account",
    )


@router.get("/account")
def account_page(request: Request, viewer: Viewer) -> Response:
    return _page(request, viewer)


@router.get("/account/export")
def export_download(uow: UowDep, me: OwnData) -> StreamingResponse:
    """All of the viewer's data as one JSON file (a download)."""
    with uow() as session:
        document = spooled_export(session, me.subject_id)
    return StreamingResponse(
        file_blocks(document),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename(me.subject_id)}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def same_email(typed: str, email: str) -> bool:
    # Emails are stored trimmed and lower-case; a person may type theirs in any case.
    return typed.strip().lower() == email.strip().lower()


@router.post("/account/delete", dependencies=[CsrfChecked])
def delete_account(
    request: Request, uow: UowDep, me: OwnData, email: Annotated[str, Form(max_length=320)] = ""
) -> Response:
    """Erase the viewer, once they have typed their account's email."""
    viewer = me.viewer
    if not same_email(email, viewer.email):
        error = (
            "Type your email to confirm."
            if not email.strip()
            else "That is not your account's email, so nothing was deleted."
        )
        return _page(request, viewer, typed=email, error=error, status_code=422)
    try:
        erasure = erase(uow, request.app.state.settings, viewer.id, path=request.url.path)
        not_revoked = list(erasure.not_revoked)
    except NotFound:
        not_revoked = []  # erased by a request that finished first: the account is gone all the same
    target = "/account/deleted"
    if not_revoked:
        target += "?" + "&".join(f"vendor={vendor}" for vendor in not_revoked)
    response = finish_page(request, RedirectResponse(target, status_code=303))
    clear_session_cookie(response)
    return response


@router.get("/account/deleted")
def deleted_page(
    request: Request,
    viewer: OptionalViewer,
    vendor: Annotated[list[str], Query(max_length=40)] = [],  # noqa: B006
) -> Response:
    """What a person sees once their account is gone; anyone signed in is sent to their account."""
    if viewer is not None:
        return finish_page(request, RedirectResponse("/account", status_code=303))
    return render(
        request,
        "account_deleted.html",
        # Only vendors perfhub knows, by their own names: the query cannot put words on the page.
        {"vendors": [DISPLAY_NAMES[name] for name in dict.fromkeys(vendor) if name in DISPLAY_NAMES]},
        title="Account deleted",
    )
