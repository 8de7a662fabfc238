"""The upload endpoint: an Apple Health export as the request body, streamed to disk, then imported."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from perfhub.auth.deps import CurrentUser
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden, PayloadTooLarge, Unprocessable
from perfhub.settings import Settings
from perfhub.wearables.apple.schemas import ImportResult
from perfhub.wearables.apple.service import import_limits, land_apple_health, read_apple_health, result_of

router = APIRouter(prefix="/import", tags=["import"])
WRITE_BYTES = 1 << 20  # written to disk in pieces this big, each in a worker thread


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the upload is larger than {limit / 1024**2:,.0f} MiB, the limit here: send export.zip as the "
        "Health app writes it (export.xml alone is 10-25 times bigger)"
    )


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
    limit = settings.apple_health_max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    user_id, tz = user.id, user.tz
    with tempfile.TemporaryDirectory(prefix="perfhub-upload-") as tmp:
        target = Path(tmp) / "export"
        size = 0
        with target.open("wb") as handle:
            pending = bytearray()
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                pending += chunk
                if len(pending) >= WRITE_BYTES:
                    # A slow disk must not stall the event loop: the write waits in a thread.
                    await run_in_threadpool(handle.write, bytes(pending))
                    pending.clear()
            await run_in_threadpool(handle.write, bytes(pending))
        if size == 0:
            raise Unprocessable("the request body is empty: send the export file as the body")

        # Minutes of CPU for a large export: in a worker thread, so /healthz and every other
        # request are still answered meanwhile; the database is not touched until it is read.
        parsed = await run_in_threadpool(
            read_apple_health, target, user_id=user_id, tz=tz, limits=import_limits(settings)
        )

        def land() -> ImportResult:
            with uow() as session:
                summary = land_apple_health(session, parsed)
            return ImportResult.model_validate(result_of(summary))

        return await run_in_threadpool(land)
