"""The pure import: an export file in, canonical day payloads and an :class:`ImportSummary` out.

No database, no HTTP: :func:`import_days` returns the HRV and sleep payloads in the ingest API's shape
(docs/http-api.md, minus ``userId``) and a summary; the caller stores them
(:mod:`perfhub.wearables.apple.service`), or nothing when this raises :class:`AppleHealthError`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfhub.wearables.apple.archive import open_stream
from perfhub.wearables.apple.days import Days
from perfhub.wearables.apple.limits import ImportLimits
from perfhub.wearables.apple.records import zone_named
from perfhub.wearables.apple.scanner import scan
from perfhub.wearables.apple.summary import ImportSummary, summarize


def import_days(
    path: Path,
    *,
    default_tz: str = "UTC",
    progress: Callable[[int, int], None] | None = None,
    limits: ImportLimits | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], ImportSummary]:
    """Read a whole export and return ``(hrv_payloads, sleep_payloads, summary)``, by date.

    Payloads are in the ingest API's shape without ``userId`` (optional fields left out when unknown),
    vendor ``apple`` for what the devices measured and ``manual`` for what the athlete typed in.
    ``progress(bytes_read, total_bytes)`` is called after every chunk (total = uncompressed size).
    Broken records of the used types are skipped and counted; an export without usable HRV, resting
    HR or sleep gives no payloads and a ``summary.message`` that says so. Raises
    :class:`AppleHealthError` for a file that is not an export or is cut off, or that is over one of
    ``limits`` (:class:`ImportLimits`: size, compression ratio, records); nothing is returned from a
    file that fails part-way.
    """
    limits = limits or ImportLimits()
    zone = zone_named(default_tz)
    days = Days(limits.max_records)
    with open_stream(path, limits) as (stream, total):
        read = 0

        def on_read(size: int) -> None:
            nonlocal read
            read += size
            if progress is not None:
                progress(read, max(total, read))

        for item in scan(stream, zone, on_read, limits.max_xml_bytes):
            days.add(item)
    hrv, sleep = days.payloads()
    day_count = len({p["date"] for p in hrv} | {p["date"] for p in sleep})
    return hrv, sleep, summarize(days.records, day_count, days.skipped, days.errors)
