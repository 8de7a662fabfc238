"""An uploaded Apple Health export: streamed to disk under the upload limit, read, then landed.

One path for every way an export arrives over HTTP — the API's raw request body and the web
page's upload (a raw body from its script, or a form's file part) — so that the limit, the empty
check and the off-the-event-loop reading hold the same for all of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterable
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from perfhub.core.deps import UnitOfWork
from perfhub.core.errors import PayloadTooLarge, Unprocessable
from perfhub.settings import Settings
from perfhub.wearables.apple.schemas import ImportResult
from perfhub.wearables.apple.service import import_limits, land_apple_health, read_apple_health, result_of

WRITE_BYTES = 1 << 20  # written to disk in pieces this big, each in a worker thread
EMPTY_BODY = "the request body is empty: send the export file as the body"


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the upload is larger than {limit / 1024**2:,.0f} MiB, the limit here: send export.zip as the "
        "Health app writes it (export.xml alone is 10-25 times bigger)"
    )


def check_declared_length(settings: Settings, content_length: str | None) -> None:
    """Refuse at once a body whose declared length is over the upload limit."""
    limit = settings.apple_health_max_upload_bytes
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise too_large(limit)


async def save_upload(chunks: AsyncIterable[bytes], target: Path, limit: int) -> int:
    """Write ``chunks`` to ``target``; the bytes written. Passing ``limit`` stops it (413)."""
    size = 0
    with target.open("wb") as handle:
        pending = bytearray()
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            pending += chunk
            if len(pending) >= WRITE_BYTES:
                # A slow disk must not stall the event loop: the write waits in a thread.
                await run_in_threadpool(handle.write, bytes(pending))
                pending.clear()
        await run_in_threadpool(handle.write, bytes(pending))
    return size


async def import_upload(
    chunks: AsyncIterable[bytes],
    *,
    settings: Settings,
    uow: UnitOfWork,
    user_id: int,
    tz: str,
    empty_message: str = EMPTY_BODY,
) -> ImportResult:
    """Stream an export to a temporary file, read it and land its nights for ``user_id``.

    Never writes more than ``apple_health_max_upload_bytes`` to disk, whatever is in front of it.
    A file that is not an export, or is over an import limit, is a 422 and stores nothing.
    """
    limit = settings.apple_health_max_upload_bytes
    with tempfile.TemporaryDirectory(prefix="perfhub-upload-") as tmp:
        target = Path(tmp) / "export"
        if await save_upload(chunks, target, limit) == 0:
            raise Unprocessable(empty_message)
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
