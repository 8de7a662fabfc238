"""Apple Health export import: stream the file, map it, land every night like any delivery.

Shared by ``perfhub import apple-health`` and the upload endpoint. Parsing finishes before
anything is written, so a broken file stores nothing and leaves what is stored as it was; the
landing happens in one transaction. Both report the same result, :func:`result_of`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.errors import Unprocessable
from perfhub.ingest.schemas import HrvIn, SleepIn
from perfhub.ingest.service import accept_batch
from perfhub.vendors.apple_health import AppleHealthError, ImportSummary, import_days


def import_apple_health(
    session: Session,
    user: User,
    path: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Parse ``path`` (export.xml or export.zip) and land its nights for ``user``."""
    try:
        hrv, sleep, summary = import_days(path, default_tz=user.tz, progress=progress)
    except AppleHealthError as exc:
        raise Unprocessable(
            f"not a usable Apple Health export: {exc}", [{"loc": ["file"], "msg": str(exc)}]
        ) from exc
    try:
        readings: list[HrvIn | SleepIn] = [HrvIn.model_validate({**p, "userId": user.id}) for p in hrv]
        readings += [SleepIn.model_validate({**p, "userId": user.id}) for p in sleep]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Unprocessable(f"export produced an invalid night: {first['loc']}: {first['msg']}") from exc
    for start in range(0, len(readings), 1000):
        accept_batch(session, readings[start : start + 1000], source="import")
    return summary


def result_of(summary: ImportSummary) -> dict[str, Any]:
    """The import's result as the CLI prints it and the API returns it."""
    return {
        "records": summary.records,
        "days": summary.days,
        "skipped": summary.skipped,
        "skippedReasons": list(summary.errors),
        "message": summary.message,
    }
