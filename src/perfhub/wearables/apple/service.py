"""Apple Health export import: stream the file, map it, land every night like any delivery.

Shared by ``perfhub import apple-health`` and the upload endpoint. Reading (:func:`read_apple_health`)
finishes before anything is written and needs no database session, so a broken or refused file
stores nothing, leaves what is stored as it was, and holds no connection for the minutes a large
export takes; landing (:func:`land_apple_health`) is one transaction. Both report the same result,
:func:`result_of`. What a file may cost is bounded by the ``apple_health_*`` settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.errors import Unprocessable
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_batch
from perfhub.settings import Settings, get_settings
from perfhub.wearables.apple.errors import AppleHealthError
from perfhub.wearables.apple.importer import import_days
from perfhub.wearables.apple.limits import ImportLimits
from perfhub.wearables.apple.summary import ImportSummary


@dataclass(frozen=True)
class ParsedExport:
    """An export read and checked, not yet stored."""

    readings: list[HrvIn | SleepIn]
    summary: ImportSummary


def import_limits(settings: Settings | None = None) -> ImportLimits:
    settings = settings or get_settings()
    return ImportLimits(
        max_xml_bytes=settings.apple_health_max_xml_bytes,
        max_zip_ratio=settings.apple_health_max_zip_ratio,
        max_records=settings.apple_health_max_records,
    )


def read_apple_health(
    path: Path,
    *,
    user_id: int,
    tz: str,
    limits: ImportLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ParsedExport:
    """Parse ``path`` (export.xml or export.zip) into validated readings for ``user_id``.

    CPU-bound for as long as the file takes; the HTTP layer runs it off the event loop.
    """
    try:
        hrv, sleep, summary = import_days(
            path, default_tz=tz, progress=progress, limits=limits or import_limits()
        )
    except AppleHealthError as exc:
        # The message quotes the file only cut short and with control characters escaped.
        raise Unprocessable(
            f"not a usable Apple Health export: {exc}", [{"loc": ["file"], "msg": str(exc)}]
        ) from exc
    try:
        readings: list[HrvIn | SleepIn] = [HrvIn.model_validate({**p, "userId": user_id}) for p in hrv]
        readings += [SleepIn.model_validate({**p, "userId": user_id}) for p in sleep]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Unprocessable(f"export produced an invalid night: {first['loc']}: {first['msg']}") from exc
    return ParsedExport(readings, summary)


def land_apple_health(session: Session, parsed: ParsedExport) -> ImportSummary:
    """Store what :func:`read_apple_health` read, in the caller's transaction."""
    for start in range(0, len(parsed.readings), 1000):
        accept_batch(session, parsed.readings[start : start + 1000], source="import")
    return parsed.summary


def import_apple_health(
    session: Session,
    user: User,
    path: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    limits: ImportLimits | None = None,
) -> ImportSummary:
    """Read ``path`` and land its nights for ``user`` in one call (the session is idle while reading)."""
    parsed = read_apple_health(path, user_id=user.id, tz=user.tz, limits=limits, progress=progress)
    return land_apple_health(session, parsed)


def result_of(summary: ImportSummary) -> dict[str, Any]:
    """The import's result as the CLI prints it and the API returns it."""
    return {
        "records": summary.records,
        "days": summary.days,
        "skipped": summary.skipped,
        "skippedReasons": list(summary.errors),
        "message": summary.message,
    }
