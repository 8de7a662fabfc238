"""The upload endpoint: an Apple Health export as the request body, streamed to disk, then imported."""

from __future__ import annotations

from fastapi import APIRouter, Request

from perfhub.auth.deps import CurrentUser
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden
from perfhub.settings import Settings
from perfhub.wearables.apple.schemas import ImportResult
from perfhub.wearables.apple.upload import check_declared_length, import_upload

router = APIRouter(prefix="/import", tags=["import"])


@router.post("/apple-health", status_code=201, response_model=ImportResult)
async def upload_apple_health(request: Request, uow: UowDep, user: CurrentUser) -> ImportResult:
    """Upload your Apple Health ``export.zip`` or ``export.xml`` as the request body
    (``Content-Type: application/zip`` or ``application/xml``). Streamed to disk, never held in memory.

    Broken records are skipped and counted with their reasons; an export without HRV, resting HR or
    sleep gives ``records: 0`` and a ``message``. A body over ``PERFHUB_APPLE_HEALTH_MAX_UPLOAD_BYTES``
    is a 413, refused before it is read when its ``Content-Length`` says so and as soon as the limit is
    passed otherwise. A file that is not an export, is cut off, or is over an import limit (size
    uncompressed, compression ratio, records) is a 422; neither stores anything."""
    if user.role != "athlete":
        raise Forbidden("only athletes import their own exports")
    settings: Settings = request.app.state.settings
    # The edge (core.limits) refuses with the same setting before this runs; checked here too so
    # that the route never writes more than that to disk, whatever is in front of it.
    check_declared_length(settings, request.headers.get("content-length"))
    return await import_upload(request.stream(), settings=settings, uow=uow, user_id=user.id, tz=user.tz)
