from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from perfhub.core.deps import CurrentUser, UowDep
from perfhub.core.errors import Forbidden, Unprocessable
from perfhub.ingest.apple import import_apple_health, result_of

router = APIRouter(prefix="/import", tags=["import"])
MAX_UPLOAD_BYTES = 2 * 1024**3


class ImportResult(BaseModel):
    records: int = Field(description="SDNN, resting-HR and sleep records in the export")
    days: int = Field(description="wake dates that got a night or a day")
    skipped: int = Field(description="records, nights and days left out")
    skipped_reasons: list[str] = Field(alias="skippedReasons", description="why, for the first 20")
    message: str | None = Field(description="set when nothing could be imported, saying why")


@router.post("/apple-health", status_code=201, response_model=ImportResult)
async def upload_apple_health(request: Request, uow: UowDep, user: CurrentUser) -> ImportResult:
    """Upload your Apple Health ``export.zip`` or ``export.xml`` as the request body
    (``Content-Type: application/zip`` or ``application/xml``). Streamed to disk, never held in memory.

    Broken records are skipped and counted with their reasons; an export without HRV, resting HR or
    sleep gives ``records: 0`` and a ``message``. A file that is not an export, or is cut off, is a
    422 and stores nothing."""
    if user.role != "athlete":
        raise Forbidden("only athletes import their own exports")
    with tempfile.TemporaryDirectory(prefix="perfhub-upload-") as tmp:
        target = Path(tmp) / "export"
        size = 0
        with target.open("wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise Unprocessable("the upload is larger than 2 GiB")
                handle.write(chunk)
        if size == 0:
            raise Unprocessable("the request body is empty: send the export file as the body")

        def _import() -> ImportResult:
            with uow() as session:
                summary = import_apple_health(session, user, target)
            return ImportResult.model_validate(result_of(summary))

        result = await run_in_threadpool(_import)
        return result
