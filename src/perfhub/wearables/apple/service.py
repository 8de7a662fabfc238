"""Apple Health export import: stream the file, map it, land every night and workout like any delivery.

Shared by ``perfhub import apple-health`` and the upload endpoint. Reading (:func:`read_apple_health`)
finishes before anything is written and needs no database session, so a broken or refused file
stores nothing, leaves what is stored as it was, and holds no connection for the minutes a large
export takes; landing (:func:`land_apple_health`) is one transaction. Both report the same result,
:func:`result_of`. What a file may cost is bounded by the ``apple_health_*`` settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.errors import Unprocessable
from perfhub.readings.mapping import WorkoutIn
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_batch
from perfhub.settings import Settings, get_settings
from perfhub.wearables.apple.errors import MAX_MESSAGE, AppleHealthError, shown
from perfhub.wearables.apple.importer import import_export
from perfhub.wearables.apple.limits import ImportLimits
from perfhub.wearables.apple.summary import MAX_ERRORS, ImportSummary


@dataclass(frozen=True)
class ParsedExport:
    """An export read and checked, not yet stored."""

    readings: list[HrvIn | SleepIn]
    summary: ImportSummary
    workouts: list[WorkoutIn] = field(default_factory=list)


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
        read = import_export(path, default_tz=tz, progress=progress, limits=limits or import_limits())
    except AppleHealthError as exc:
        # The message quotes the file only cut short and with control characters escaped.
        raise Unprocessable(
            f"not a usable Apple Health export: {exc}", [{"loc": ["file"], "msg": str(exc)}]
        ) from exc
    try:
        readings: list[HrvIn | SleepIn] = [HrvIn.model_validate({**p, "userId": user_id}) for p in read.hrv]
        readings += [SleepIn.model_validate({**p, "userId": user_id}) for p in read.sleep]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Unprocessable(f"export produced an invalid night: {first['loc']}: {first['msg']}") from exc
    workouts, summary = _checked_workouts(read.workouts, user_id, read.summary)
    return ParsedExport(readings, summary, workouts)


def _checked_workouts(
    payloads: list[dict[str, Any]], user_id: int, summary: ImportSummary
) -> tuple[list[WorkoutIn], ImportSummary]:
    """The workouts the ingest contract takes; one it refuses is skipped and said, like a broken
    record, and never costs the rest of the export."""
    kept: list[WorkoutIn] = []
    errors = list(summary.errors)
    skipped = summary.skipped
    for payload in payloads:
        try:
            kept.append(WorkoutIn.model_validate({**payload, "userId": user_id}))
        except ValidationError as exc:
            first = exc.errors()[0]
            skipped += 1
            if len(errors) < MAX_ERRORS:
                where = f"workout on {payload.get('date')} ({payload.get('sport')})"
                errors.append(
                    shown(f"{where}: {'.'.join(map(str, first['loc']))}: {first['msg']}", MAX_MESSAGE)
                )
    return kept, replace(summary, skipped=skipped, errors=errors, workouts=len(kept))


def land_apple_health(session: Session, parsed: ParsedExport) -> ImportSummary:
    """Store what :func:`read_apple_health` read, in the caller's transaction."""
    for start in range(0, len(parsed.readings), 1000):
        accept_batch(session, parsed.readings[start : start + 1000], source="import")
    for start in range(0, len(parsed.workouts), 1000):
        accept_batch(session, parsed.workouts[start : start + 1000], source="import")
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
        "workouts": summary.workouts,
        "skipped": summary.skipped,
        "skippedReasons": list(summary.errors),
        "message": summary.message,
    }
