"""The pure import: an export file in, canonical day payloads, workouts and an :class:`ImportSummary` out.

No database, no HTTP: :func:`import_export` returns the HRV and sleep payloads and the workouts in the
ingest API's shape (docs/http-api.md, minus ``userId``) and a summary (:func:`import_days`: the
days alone); the caller stores them (:mod:`perfhub.wearables.apple.service`), or nothing when this
raises :class:`AppleHealthError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfhub.wearables.apple.archive import open_stream
from perfhub.wearables.apple.days import Days
from perfhub.wearables.apple.limits import ImportLimits
from perfhub.wearables.apple.records import zone_named
from perfhub.wearables.apple.scanner import scan
from perfhub.wearables.apple.summary import ImportSummary, summarize
from perfhub.wearables.apple.workouts import AppleWorkout, InvalidWorkout, WorkoutHeartRate, Workouts


@dataclass(frozen=True)
class ReadExport:
    """Everything an export gave: payloads by date, and what was read and left out."""

    hrv: list[dict[str, Any]]
    sleep: list[dict[str, Any]]
    workouts: list[dict[str, Any]]
    summary: ImportSummary


def import_days(
    path: Path,
    *,
    default_tz: str = "UTC",
    progress: Callable[[int, int], None] | None = None,
    limits: ImportLimits | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], ImportSummary]:
    """Read a whole export and return ``(hrv_payloads, sleep_payloads, summary)``, by date
    (:func:`import_export` for the workouts too).

    Payloads are in the ingest API's shape without ``userId`` (optional fields left out when unknown),
    vendor ``apple`` for what the devices measured and ``manual`` for what the athlete typed in.
    ``progress(bytes_read, total_bytes)`` is called after every chunk (total = uncompressed size).
    Broken records of the used types are skipped and counted; an export without usable HRV, resting
    HR or sleep gives no payloads and a ``summary.message`` that says so. Raises
    :class:`AppleHealthError` for a file that is not an export or is cut off, or that is over one of
    ``limits`` (:class:`ImportLimits`: size, compression ratio, records); nothing is returned from a
    file that fails part-way.
    """
    read = import_export(path, default_tz=default_tz, progress=progress, limits=limits)
    return read.hrv, read.sleep, read.summary


def import_export(
    path: Path,
    *,
    default_tz: str = "UTC",
    progress: Callable[[int, int], None] | None = None,
    limits: ImportLimits | None = None,
) -> ReadExport:
    """Read a whole export: the days as :func:`import_days` makes them, and its workouts (checked,
    broken ones skipped and counted like broken records)."""
    limits = limits or ImportLimits()
    zone = zone_named(default_tz)
    days = Days(limits.max_records)
    workouts = Workouts(days.skip)
    with open_stream(path, limits) as (stream, total):
        read = 0

        def on_read(size: int) -> None:
            nonlocal read
            read += size
            if progress is not None:
                progress(read, max(total, read))

        for item in scan(stream, zone, on_read, limits.max_xml_bytes):
            if isinstance(item, AppleWorkout | InvalidWorkout | WorkoutHeartRate):
                workouts.add(item)
            else:
                days.add(item)
    hrv, sleep = days.payloads()
    workout_payloads = workouts.payloads()
    day_count = len({p["date"] for p in hrv} | {p["date"] for p in sleep})
    summary = summarize(days.records, day_count, days.skipped, days.errors, workouts=len(workout_payloads))
    return ReadExport(hrv, sleep, workout_payloads, summary)
