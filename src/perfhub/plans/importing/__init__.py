"""A training plan read from a CSV file or an iCalendar (.ics) file, as planned sessions.

Pure: bytes in, :class:`ParsedPlan` out, no database and no web framework, so that every rule
here is tested on its own. A file that cannot be read at all (empty, not UTF-8, too large, not
CSV or iCalendar) raises :class:`~perfhub.core.errors.Unprocessable` or
:class:`~perfhub.core.errors.PayloadTooLarge`; a row or event that cannot become a session is a
:class:`RowError` and the others are still returned.

The words read from an iCalendar event (sports, how hard, durations) are :data:`SPORT_WORDS`,
:data:`TYPE_WORDS` and the patterns below; docs/plans.md lists them for people.
"""

from __future__ import annotations

from datetime import date

from perfhub.core.errors import PayloadTooLarge, Unprocessable
from perfhub.plans.importing.csv_plan import parse_csv
from perfhub.plans.importing.ics_plan import SPORT_WORDS, TYPE_WORDS, parse_ics
from perfhub.plans.importing.rows import (
    MAX_FILE_BYTES,
    MAX_SESSIONS,
    RECURRENCE_WINDOW,
    Format,
    ParsedPlan,
    PlanItem,
    RowError,
    find_intensity,
    parse_intensity,
)

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_SESSIONS",
    "RECURRENCE_WINDOW",
    "SPORT_WORDS",
    "TYPE_WORDS",
    "Format",
    "ParsedPlan",
    "PlanItem",
    "RowError",
    "decode",
    "detect_format",
    "find_intensity",
    "parse_csv",
    "parse_file",
    "parse_ics",
    "parse_intensity",
]

# --------------------------------------------------------------------------------------------
# The file as text, and which kind it is
# --------------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file as text: UTF-8 (a byte-order mark is dropped), at most :data:`MAX_FILE_BYTES`."""
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"the file is larger than a plan import accepts ({MAX_FILE_BYTES} bytes)")
    if not data.strip():
        raise Unprocessable("the file is empty", [{"loc": ["body"], "msg": "empty file"}])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            f"the file is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8 or as .ics",
            [{"loc": ["body"], "msg": "not UTF-8"}],
        ) from exc
    if "\x00" in text:
        raise Unprocessable("the file is binary, not CSV or iCalendar", [{"loc": ["body"], "msg": "binary"}])
    return text


def detect_format(text: str, content_type: str | None = None, filename: str | None = None) -> Format:
    """What the caller said (media type, then file extension), else what the text looks like."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "text/calendar":
        return "ics"
    if media in ("text/csv", "application/csv"):
        return "csv"
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    if suffix in ("ics", "ical", "ifb"):
        return "ics"
    if suffix == "csv":
        return "csv"
    return "ics" if text.lstrip().upper().startswith("BEGIN:VCALENDAR") else "csv"


def parse_file(
    data: bytes, *, tz: str, today: date, fmt: Format | None = None, **hints: str | None
) -> ParsedPlan:
    """Decode, recognise (``content_type`` and ``filename`` hints) and parse a plan file."""
    text = decode(data)
    kind = fmt or detect_format(text, hints.get("content_type"), hints.get("filename"))
    return parse_csv(text) if kind == "csv" else parse_ics(text, tz=tz, today=today)
