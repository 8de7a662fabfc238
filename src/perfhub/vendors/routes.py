"""Connections (OAuth link flow) and vendor webhooks."""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from typing import Any, Literal, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from perfhub.core.bus import WEBHOOK_RECEIVED, publish
from perfhub.core.deps import CurrentUser, UowDep
from perfhub.core.errors import BadRequest, NotFound, Unauthorized
from perfhub.vendors import base
from perfhub.vendors.backfill import days_total
from perfhub.vendors.connections import complete_link, connections_of, disconnect, start_link
from perfhub.vendors.models import VendorConnection, WebhookReceipt
from perfhub.vendors.registry import MODULES, vendor_config

router = APIRouter(tags=["connections"])
LinkableVendor = Literal["oura", "whoop", "google"]
BackfillStatus = Literal["queued", "running", "done", "failed"]


class LinkOut(BaseModel):
    auth_url: str = Field(serialization_alias="authUrl")


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
    backfill: BackfillOut | None = None


@router.post(
    "/connections/{vendor}/link", status_code=201, response_model=LinkOut, response_model_by_alias=True
)
def link(vendor: LinkableVendor, request: Request, uow: UowDep, user: CurrentUser) -> LinkOut:
    """Start linking a wearable: open ``authUrl`` in a browser; the vendor sends you back here."""
    with uow() as session:
        return LinkOut(auth_url=start_link(session, request.app.state.settings, user, vendor))


@router.get("/connections/{vendor}/callback", response_model=None)
def callback(
    vendor: LinkableVendor,
    request: Request,
    uow: UowDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Any:
    """Where the vendor redirects after consent. The ``state`` identifies the athlete."""
    if error:
        raise BadRequest(f"{vendor} did not grant access: {error}")
    if not code or not state:
        raise BadRequest("code and state are required")
    with uow() as session:
        # Fetches nothing: the backfill is only queued here, and runs in the ingest stage.
        complete_link(
            session, request.app.state.settings, vendor, code, state, now=request.app.state.runtime.clock()
        )
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/?linked={vendor}", status_code=303)
    return {"vendor": vendor, "status": "linked"}


@router.get("/connections", response_model=list[ConnectionOut], response_model_by_alias=True)
def list_connections(uow: UowDep, user: CurrentUser) -> list[ConnectionOut]:
    """Your linked wearables, each with the progress of the history backfill its link started."""
    with uow() as session:
        return [
            ConnectionOut(
                vendor=c.vendor,
                status=c.status,
                linked_at=c.linked_at,
                last_sync_at=c.last_sync_at,
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
    raw = await request.body()
    if config is None:
        raise Unauthorized(f"{vendor} is not configured")
    try:
        module.verify_webhook(
            request.headers, raw, config.client_secret, time.time(), settings.webhook_tolerance_s
        )
        event = module.parse_webhook(json.loads(raw))
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
