"""Connections (OAuth link flow) and vendor webhooks."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from perfhub.auth.deps import CurrentUser
from perfhub.core.bus import WEBHOOK_RECEIVED, publish
from perfhub.core.deps import UowDep
from perfhub.core.errors import BadRequest, NotFound, Unauthorized
from perfhub.core.limits import strict_json_loads
from perfhub.settings import Settings
from perfhub.wearables.backfill import days_total
from perfhub.wearables.models import VendorConnection, WebhookReceipt
from perfhub.wearables.service import (
    VENDOR_NAMES,
    complete,
    connections_of,
    disconnect,
    link_cookie_name,
    redirect_uri,
    start_link,
    vendor_returned,
)
from perfhub.wearables.vendors import base
from perfhub.wearables.vendors.registry import MODULES, vendor_config

router = APIRouter(tags=["connections"])
LinkableVendor = Literal["oura", "whoop", "google"]
BackfillStatus = Literal["queued", "running", "done", "failed"]
ConnectionReason = Literal["moved", "unlinked", "refresh_refused"]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    move_existing: bool = Field(
        default=False,
        alias="moveExisting",
        description="should the vendor account be linked to another athlete, move it to you without "
        "asking again (their link is revoked)",
    )


class LinkOut(BaseModel):
    auth_url: str = Field(serialization_alias="authUrl")


class LinkedOut(BaseModel):
    vendor: str
    status: Literal["linked"]


class LinkPendingOut(BaseModel):
    """The vendor sent back a browser that did not start this link: nothing is linked until the
    athlete who started it completes it, with ``completion``, from their own app."""

    vendor: str
    status: Literal["pending"]
    completion: str = Field(description="for POST /connections/{vendor}/complete, by the starter only")
    detail: str


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    state: str = Field(min_length=8, max_length=200, description="the `state` of the link's `authUrl`")
    completion: str | None = Field(
        default=None, max_length=200, description="what the callback answered a browser without the cookie"
    )
    code: str | None = Field(
        default=None,
        max_length=2000,
        description="the vendor's code, for an app that caught the vendor's redirect itself",
    )
    move_existing: bool = Field(
        default=False,
        alias="moveExisting",
        description="confirms moving a vendor account linked to another athlete to you",
    )


class BackfillOut(BaseModel):
    """The history backfill the last link started: ``daysDone`` of ``daysTotal`` wake dates
    (``from``..``to``, newest first). While a vendor rate limit is waited out ``status`` stays
    ``running`` and ``error`` says until when."""

    status: BackfillStatus
    from_: date = Field(serialization_alias="from")
    to: date
    days_done: int = Field(serialization_alias="daysDone")
    days_total: int = Field(serialization_alias="daysTotal")
    records: int
    error: str | None
    started_at: datetime | None = Field(serialization_alias="startedAt")
    finished_at: datetime | None = Field(serialization_alias="finishedAt")

    @classmethod
    def of(cls, connection: VendorConnection) -> BackfillOut | None:
        if connection.backfill_status is None or connection.backfill_from is None:
            return None  # linked before link backfills existed
        assert connection.backfill_to is not None
        return cls(
            status=cast(BackfillStatus, connection.backfill_status),
            from_=connection.backfill_from,
            to=connection.backfill_to,
            days_done=connection.backfill_days_done or 0,
            days_total=days_total(connection),
            records=connection.backfill_records or 0,
            error=connection.backfill_error,
            started_at=connection.backfill_started_at,
            finished_at=connection.backfill_finished_at,
        )


class ConnectionOut(BaseModel):
    vendor: str
    status: str
    linked_at: datetime | None = Field(serialization_alias="linkedAt")
    last_sync_at: datetime | None = Field(serialization_alias="lastSyncAt")
    reason: ConnectionReason | None = Field(
        default=None,
        description="why it is not linked: `moved` (another athlete linked this vendor account and "
        "confirmed), `unlinked` (you did), `refresh_refused` (the vendor refused perfhub: link again)",
    )
    revoked_at: datetime | None = Field(default=None, serialization_alias="revokedAt")
    backfill: BackfillOut | None = None


def _cookie_path(settings: Settings, vendor: str) -> str:
    return urlsplit(redirect_uri(settings, vendor)).path


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
    # SameSite=Lax: the browser still sends it on the top-level GET that the vendor redirects
    # back with; only the callback ever sees it.
    response.set_cookie(
        link_cookie_name(vendor),
        started.browser_nonce,
        max_age=settings.oauth_state_ttl_s,
        path=_cookie_path(settings, vendor),
        secure=settings.base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
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
        name = VENDOR_NAMES[vendor]
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
        answer = RedirectResponse(f"/?linked={vendor}", status_code=303)
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
def list_connections(uow: UowDep, user: CurrentUser) -> list[ConnectionOut]:
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
            for c in connections_of(session, user)
        ]


@router.delete("/connections/{vendor}", status_code=204)
def unlink(vendor: LinkableVendor, request: Request, uow: UowDep, user: CurrentUser) -> Response:
    """Revoke at the vendor where possible, delete the tokens; ingest stops at once."""
    with uow() as session:
        disconnect(session, request.app.state.settings, user, vendor)
    return Response(status_code=204)


@router.get("/webhooks/{vendor}", response_model=None)
def webhook_handshake(vendor: LinkableVendor, request: Request) -> Any:
    """Oura's subscription handshake: echo the challenge when the verification token matches."""
    settings = request.app.state.settings
    token = settings.oura_webhook_verification_token
    if vendor != "oura":
        raise NotFound("no handshake for this vendor")
    answer = MODULES["oura"].answer_challenge(
        dict(request.query_params), token.get_secret_value() if token else None
    )
    if answer is None:
        raise Unauthorized("verification token does not match")
    return JSONResponse(answer)


@router.post("/webhooks/{vendor}", status_code=202, response_model=None)
async def webhook(vendor: LinkableVendor, request: Request, uow: UowDep) -> Any:
    """Vendor notifications: verified on the raw body, deduplicated, answered at once; the
    ingest stage fetches the referenced record asynchronously."""
    settings = request.app.state.settings
    config = vendor_config(settings, vendor)
    module = MODULES[vendor]
    if config is None:
        # Before the body is read: nobody can sign for a vendor without a client secret.
        raise Unauthorized(f"{vendor} is not configured")
    # The signature covers the raw body, so it must be read before anything is verified; the
    # edge (core.limits) has capped it at max_webhook_body_bytes.
    raw = await request.body()
    try:
        module.verify_webhook(
            request.headers, raw, config.client_secret, time.time(), settings.webhook_tolerance_s
        )
        event = module.parse_webhook(strict_json_loads(raw))
    except base.SignatureError as exc:
        raise Unauthorized(f"webhook rejected: {exc}") from exc
    except (ValueError, base.MappingError) as exc:
        raise BadRequest(f"unreadable notification: {exc}") from exc

    def _accept() -> dict[str, Any]:
        try:
            with uow() as session:
                session.add(WebhookReceipt(vendor=vendor, dedupe_key=event.dedupe_key))
                session.flush()
                connection = session.scalar(
                    select(VendorConnection).where(
                        VendorConnection.vendor == vendor,
                        VendorConnection.vendor_user_id == str(event.vendor_user_id),
                        VendorConnection.status == "linked",
                    )
                )
                if connection is None:
                    return {"status": "ignored", "reason": "no linked athlete"}
                publish(
                    session,
                    WEBHOOK_RECEIVED,
                    {
                        "connectionId": connection.id,
                        "userId": connection.user_id,
                        "vendor": vendor,
                        "kind": event.kind,
                        "objectId": event.object_id,
                        "event": event.event,
                    },
                    user_id=connection.user_id,
                )
        except IntegrityError:
            return {"status": "duplicate"}
        return {"status": "accepted"}

    return await run_in_threadpool(_accept)
