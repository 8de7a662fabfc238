"""Connections (OAuth link flow) and vendor webhooks: parse, call the service, answer."""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from perfhub.auth.deps import CurrentUser
from perfhub.core.deps import UowDep
from perfhub.core.errors import BadRequest
from perfhub.privacy.deps import OwnRead
from perfhub.settings import Settings
from perfhub.wearables.linking import complete, link_cookie_name, redirect_uri, start_link, vendor_returned
from perfhub.wearables.schemas import (
    BackfillOut,
    CompleteIn,
    ConnectionOut,
    ConnectionReason,
    LinkableVendor,
    LinkedOut,
    LinkIn,
    LinkOut,
    LinkPendingOut,
)
from perfhub.wearables.service import connections_of, disconnect
from perfhub.wearables.vendors.registry import DISPLAY_NAMES
from perfhub.wearables.webhooks import accept_delivery, answer_handshake, read_delivery, webhook_secret

router = APIRouter(tags=["connections"])


def _cookie_path(settings: Settings, vendor: str) -> str:
    return urlsplit(redirect_uri(settings, vendor)).path


def set_link_cookie(response: Response, settings: Settings, vendor: str, browser_nonce: str) -> None:
    """The cookie that binds a link to the browser that started it (the API's link route and the
    connections page both set it). SameSite=Lax: the browser still sends it on the top-level GET
    that the vendor redirects back with; only the callback ever sees it."""
    response.set_cookie(
        link_cookie_name(vendor),
        browser_nonce,
        max_age=settings.oauth_state_ttl_s,
        path=_cookie_path(settings, vendor),
        secure=settings.base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


@router.post(
    "/connections/{vendor}/link", status_code=201, response_model=LinkOut, response_model_by_alias=True
)
def link(
    vendor: LinkableVendor,
    request: Request,
    response: Response,
    uow: UowDep,
    user: CurrentUser,
    body: LinkIn | None = None,
) -> LinkOut:
    """Start linking a wearable: open ``authUrl`` in a browser; the vendor sends you back here.

    The answer sets a cookie for the callback: a browser holding it links at once. A browser
    without it (an app's in-app browser) gets a ``completion`` that the app sends, with your
    token, to ``POST /connections/{vendor}/complete``."""
    settings: Settings = request.app.state.settings
    with uow() as session:
        started = start_link(
            session, settings, user, vendor, move_existing=body is not None and body.move_existing
        )
    set_link_cookie(response, settings, vendor, started.browser_nonce)
    return LinkOut(auth_url=started.auth_url)


@router.get(
    "/connections/{vendor}/callback",
    response_model=None,
    responses={
        200: {"model": LinkedOut, "description": "linked (the browser that started the link)"},
        202: {"model": LinkPendingOut, "description": "not linked until its starter completes it"},
        303: {"description": "linked; to the web page, for a browser asking for HTML"},
    },
)
def callback(
    vendor: LinkableVendor,
    request: Request,
    uow: UowDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Any:
    """Where the vendor redirects after consent. The ``state`` names the athlete who started
    the link; the link is made only for the browser that started it (its cookie). Any other
    browser may be someone sent to consent with another's link: it is answered 202 and nothing
    is linked until the starter completes it. A vendor account linked to another athlete is a
    409 that asks for confirmation."""
    if error:
        raise BadRequest(f"{vendor} did not grant access: {error}")
    if not code or not state:
        raise BadRequest("code and state are required")
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(link_cookie_name(vendor))
    with uow() as session:
        # Fetches no history: the backfill is only queued here, and runs in the ingest stage.
        outcome = vendor_returned(
            session, settings, vendor, code, state, cookie, now=request.app.state.runtime.clock()
        )
    if outcome.error is not None:
        raise outcome.error
    if outcome.status == "pending":
        assert outcome.completion is not None
        name = DISPLAY_NAMES[vendor]
        return JSONResponse(
            LinkPendingOut(
                vendor=vendor,
                status="pending",
                completion=outcome.completion,
                detail=(
                    f"{name} is not linked yet: this browser did not start the link. The perfhub app "
                    "that started it finishes it with this completion. If you did not start linking "
                    f"{name} in perfhub yourself, close this page and share this with nobody."
                ),
            ).model_dump(),
            status_code=202,
        )
    answer: Response
    if "text/html" in request.headers.get("accept", ""):
        answer = RedirectResponse(f"/connections?linked={vendor}", status_code=303)
    else:
        answer = JSONResponse(LinkedOut(vendor=vendor, status="linked").model_dump())
    answer.delete_cookie(link_cookie_name(vendor), path=_cookie_path(settings, vendor))
    return answer


@router.post("/connections/{vendor}/complete", response_model=LinkedOut)
def complete_link(
    vendor: LinkableVendor, body: CompleteIn, request: Request, uow: UowDep, user: CurrentUser
) -> LinkedOut:
    """Finish a link you started, with your token: after the callback answered a browser 202
    (send its ``completion``), from an app that caught the vendor's redirect itself (send the
    ``code``), or to confirm moving a vendor account from another athlete (``moveExisting``,
    after a 409). Someone else's link, or a wrong completion, cancels it."""
    with uow() as session:
        outcome = complete(
            session,
            request.app.state.settings,
            user,
            vendor,
            body.state,
            completion=body.completion,
            code=body.code,
            move_existing=body.move_existing,
            now=request.app.state.runtime.clock(),
        )
    if outcome.error is not None:
        raise outcome.error
    return LinkedOut(vendor=vendor, status="linked")


@router.get("/connections", response_model=list[ConnectionOut], response_model_by_alias=True)
def list_connections(uow: UowDep, me: OwnRead) -> list[ConnectionOut]:
    """Your linked wearables, each with the progress of the history backfill its link started,
    and for one no longer linked, why (``reason``)."""
    with uow() as session:
        return [
            ConnectionOut(
                vendor=c.vendor,
                status=c.status,
                linked_at=c.linked_at,
                last_sync_at=c.last_sync_at,
                reason=cast(ConnectionReason | None, c.status_reason if c.status != "linked" else None),
                revoked_at=c.revoked_at if c.status == "revoked" else None,
                backfill=BackfillOut.of(c),
            )
            for c in connections_of(session, me.viewer)
        ]


@router.delete("/connections/{vendor}", status_code=204)
def unlink(vendor: LinkableVendor, request: Request, uow: UowDep, user: CurrentUser) -> Response:
    """Revoke at the vendor where possible, delete the tokens; ingest stops at once."""
    with uow() as session:
        disconnect(session, request.app.state.settings, user, vendor)
    return Response(status_code=204)


@router.get("/webhooks/{vendor}", response_model=None)
def webhook_handshake(vendor: LinkableVendor, request: Request) -> Any:
    """A vendor's subscription handshake (Oura): echo the challenge when the verification token matches."""
    return JSONResponse(answer_handshake(request.app.state.settings, vendor, dict(request.query_params)))


@router.post("/webhooks/{vendor}", status_code=202, response_model=None)
async def webhook(vendor: LinkableVendor, request: Request, uow: UowDep) -> Any:
    """Vendor notifications: verified on the raw body, deduplicated, answered at once; the
    ingest stage fetches the referenced record asynchronously."""
    settings = request.app.state.settings
    secret = webhook_secret(settings, vendor)
    # The signature covers the raw body, so it must be read before anything is verified; the
    # edge (core.limits) has capped it at max_webhook_body_bytes.
    raw = await request.body()
    event = read_delivery(settings, vendor, request.headers, raw, secret, time.time())

    def _accept() -> dict[str, str]:
        with uow() as session:
            return accept_delivery(session, vendor, event)

    return await run_in_threadpool(_accept)
