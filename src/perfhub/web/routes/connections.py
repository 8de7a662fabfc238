"""The connections page: each wearable's link in words, linking and unlinking, and the Apple
Health upload.

Linking, unlinking and importing call the same services as the API (``start_link``,
``disconnect``, ``import_upload``). A link sets the same cookie the API's ``POST /link`` sets, so
that the vendor's callback recognises this browser, and the callback sends the browser back here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from perfhub.core.deps import UowDep
from perfhub.core.errors import Unprocessable
from perfhub.privacy.deps import ReadRequest
from perfhub.settings import Settings
from perfhub.wearables.apple.schemas import ImportResult
from perfhub.wearables.apple.summary import summarize
from perfhub.wearables.apple.upload import WRITE_BYTES, check_declared_length, import_upload
from perfhub.wearables.linking import start_link
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.routes import set_link_cookie
from perfhub.wearables.schemas import BackfillOut, LinkableVendor
from perfhub.wearables.service import connections_of, disconnect
from perfhub.wearables.vendors.registry import DISPLAY_NAMES, LINKABLE_VENDORS, vendor_config
from perfhub.web.deps import AthleteViewer, CsrfChecked, PageRead
from perfhub.web.security import finish_page
from perfhub.web.templating import render

router = APIRouter()

# The viewer's own connections: what GET /api/v1/connections reads.
OwnConnections = Annotated[ReadRequest, PageRead(own=True)]
EXPORT_FIELD = "export"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")  # what a form posts
MAX_COUNT = 10**9  # an import result carried in the address after an upload


@dataclass(frozen=True)
class VendorView:
    """One linkable vendor as the page shows it."""

    vendor: str
    name: str
    status: str  # linked | needs_relink | not_linked | not_configured
    status_words: str
    explanation: str
    linked_at: datetime | None
    linked_at_words: str
    last_sync_at: datetime | None
    last_sync_words: str
    backfill_words: str
    can_link: bool
    can_unlink: bool


def instant_words(instant: datetime | None, tz: str) -> str:
    """An instant in the athlete's own time zone: "24 Nov 2026, 06:41"."""
    if instant is None:
        return ""
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local.day} {local:%b %Y, %H:%M}"


def size_words(size: int) -> str:
    """A byte count as a person reads it: "1 GB", "500 MB" (powers of 1024, as the limit is set)."""
    if size >= 1024**3:
        return f"{size / 1024**3:,.3g} GB"
    return f"{size / 1024**2:,.3g} MB"


def backfill_words(connection: VendorConnection) -> str:
    backfill = BackfillOut.of(connection)
    if backfill is None:
        return ""
    days = f"{backfill.days_done} of {backfill.days_total} days"
    if backfill.status in ("queued", "running"):
        waiting = f" ({backfill.error})" if backfill.error else ""
        return f"Fetching your history: {days} so far, {backfill.records} records{waiting}."
    if backfill.status == "failed":
        return f"Fetching your history stopped after {days}: {backfill.error or 'unknown reason'}."
    return f"History fetched: {backfill.days_total} days, {backfill.records} records."


def vendor_view(vendor: str, connection: VendorConnection | None, configured: bool, tz: str) -> VendorView:
    name = DISPLAY_NAMES[vendor]
    status = connection.status if connection is not None else "revoked"
    explanation = ""
    if status == "linked":
        words = "Linked"
    elif status == "needs_relink":
        words = "Needs relink"
        explanation = (
            f"{name} stopped accepting perfhub's access: it was withdrawn in your {name} account, or it "
            f"ran out. Nothing new arrives from {name} until you link it again; what arrived is kept."
        )
    elif not configured:
        status, words = "not_configured", "Not configured"
        explanation = (
            f"This server has no {name} client set up, so {name} cannot be linked here. Your administrator "
            f"sets PERFHUB_{vendor.upper()}_CLIENT_ID and PERFHUB_{vendor.upper()}_CLIENT_SECRET."
        )
    else:
        status, words = "not_linked", "Not linked"
        if connection is not None and connection.status_reason == "moved":
            explanation = f"Your {name} account was linked to another perfhub athlete, who confirmed it."
        elif connection is not None and connection.status_reason == "unlinked":
            when = instant_words(connection.revoked_at, tz)
            explanation = f"You unlinked {name}{' on ' + when if when else ''}. The nights it sent are kept."
    live = status in ("linked", "needs_relink")
    return VendorView(
        vendor=vendor,
        name=name,
        status=status,
        status_words=words,
        explanation=explanation,
        linked_at=connection.linked_at if live and connection is not None else None,
        linked_at_words=instant_words(connection.linked_at, tz) if live and connection is not None else "",
        last_sync_at=connection.last_sync_at if live and connection is not None else None,
        last_sync_words=instant_words(connection.last_sync_at, tz) if live and connection is not None else "",
        backfill_words=backfill_words(connection) if live and connection is not None else "",
        can_link=configured and status != "linked",
        can_unlink=live,
    )


@dataclass(frozen=True)
class ImportWords:
    """An import's result in words: one sentence, and the reasons for what was skipped."""

    sentence: str
    reasons: list[str]
    nothing_imported: bool


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def import_words(result: ImportResult) -> ImportWords:
    if result.message:
        return ImportWords(result.message[0].upper() + result.message[1:] + ".", [], True)
    sentence = (
        f"Imported {_plural(result.records, 'record', 'records')} over {_plural(result.days, 'day', 'days')}."
    )
    if result.skipped:
        left_out = _plural(result.skipped, "record, night or day was", "records, nights or days were")
        sentence += f" {left_out} skipped"
        if result.skipped_reasons and len(result.skipped_reasons) < result.skipped:
            sentence += f" (the first {len(result.skipped_reasons)} are listed)"
        sentence += ":" if result.skipped_reasons else ", as they could not be used."
    reasons = [reason[0].upper() + reason[1:] for reason in result.skipped_reasons if reason]
    return ImportWords(sentence, reasons, False)


def imported_result(records: int, days: int, skipped: int) -> ImportResult:
    """The result the upload redirected with (counts only; reasons do not travel in an address)."""
    summary = summarize(records, days, skipped, [])
    return ImportResult(
        records=records, days=days, skipped=skipped, skippedReasons=[], message=summary.message
    )


@router.get("/connections")
def connections_page(
    request: Request,
    uow: UowDep,
    viewer: AthleteViewer,
    me: OwnConnections,
    linked: str | None = None,
    unlinked: str | None = None,
    imported: Annotated[int | None, Query(ge=0, le=MAX_COUNT)] = None,
    days: Annotated[int | None, Query(ge=0, le=MAX_COUNT)] = None,
    skipped: Annotated[int | None, Query(ge=0, le=MAX_COUNT)] = None,
) -> Response:
    settings: Settings = request.app.state.settings
    with uow() as session:
        by_vendor = {c.vendor: c for c in connections_of(session, me.viewer)}
        vendors = [
            vendor_view(v, by_vendor.get(v), vendor_config(settings, v) is not None, viewer.tz)
            for v in LINKABLE_VENDORS
        ]
    notice = ""
    if linked in DISPLAY_NAMES:
        notice = (
            f"{DISPLAY_NAMES[linked]} is linked. Your history is being fetched; "
            "new nights arrive by themselves."
        )
    elif unlinked in DISPLAY_NAMES:
        notice = f"{DISPLAY_NAMES[unlinked]} is unlinked. perfhub no longer receives anything from it."
    result = None
    if imported is not None and days is not None and skipped is not None:
        result = import_words(imported_result(imported, days, skipped))
    return render(
        request,
        "connections.html",
        {
            "vendors": vendors,
            "notice": notice,
            "result": result,
            "export_field": EXPORT_FIELD,
            "max_upload": size_words(settings.apple_health_max_upload_bytes),
            "max_upload_bytes": settings.apple_health_max_upload_bytes,
        },
        user=viewer,
        title="Connections",
    )


@router.post("/connections/{vendor}/link", dependencies=[CsrfChecked])
def link(vendor: LinkableVendor, request: Request, uow: UowDep, viewer: AthleteViewer) -> Response:
    """Start linking: off to the vendor's consent page, which sends the browser back to the callback."""
    settings: Settings = request.app.state.settings
    with uow() as session:
        started = start_link(session, settings, viewer, vendor)
    response = RedirectResponse(started.auth_url, status_code=303)
    set_link_cookie(response, settings, vendor, started.browser_nonce)
    return finish_page(request, response)


@router.post("/connections/{vendor}/unlink", dependencies=[CsrfChecked])
def unlink(vendor: LinkableVendor, request: Request, uow: UowDep, viewer: AthleteViewer) -> Response:
    with uow() as session:
        disconnect(session, request.app.state.settings, viewer, vendor)
    return finish_page(request, RedirectResponse(f"/connections?unlinked={vendor}", status_code=303))


async def _file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(WRITE_BYTES):
        yield chunk


@router.post("/connections/apple-health", dependencies=[CsrfChecked])
async def upload_apple_health(request: Request, uow: UowDep, viewer: AthleteViewer) -> Response:
    """An Apple Health export from the page: a form's file (no script) or the raw file (the page's
    script, which asks for JSON to show the result in place)."""
    settings: Settings = request.app.state.settings
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        # Parsed by the CSRF check already (its token is a field of the same form): files on disk.
        form = await request.form()
        try:
            upload = form.get(EXPORT_FIELD)
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise Unprocessable("Choose your Apple Health export (export.zip or export.xml) first.")
            result = await import_upload(
                _file_chunks(upload),
                settings=settings,
                uow=uow,
                user_id=viewer.id,
                tz=viewer.tz,
                empty_message=f"{upload.filename} is empty: choose the export.zip the Health app made.",
            )
        finally:
            await form.close()
    else:
        check_declared_length(settings, request.headers.get("content-length"))
        result = await import_upload(
            request.stream(), settings=settings, uow=uow, user_id=viewer.id, tz=viewer.tz
        )
    if "application/json" in request.headers.get("accept", ""):
        words = import_words(result)
        body = {**result.model_dump(by_alias=True), "sentence": words.sentence, "reasons": words.reasons}
        return finish_page(request, JSONResponse(body, status_code=201))
    query = urlencode({"imported": result.records, "days": result.days, "skipped": result.skipped})
    return finish_page(request, RedirectResponse(f"/connections?{query}#apple-health", status_code=303))
