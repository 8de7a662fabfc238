"""The ``Record`` elements an import uses, read from their tags and checked one by one.

Only three record types make nights and days (SDNN, resting HR, sleep); a record of one of them that
cannot be read is an :class:`Invalid` with the reason, which the import counts as skipped. A record
with ``<MetadataEntry key="HKWasUserEntered" value="1"/>`` was typed in by the athlete
(:attr:`AppleRecord.user_entered`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from perfhub.wearables.apple.attributes import ATTRIBUTES, Broken, attribute_value, split_attributes
from perfhub.wearables.apple.errors import quoted, shown

SDNN_TYPE = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
RESTING_HR_TYPE = "HKQuantityTypeIdentifierRestingHeartRate"
SLEEP_TYPE = "HKCategoryTypeIdentifierSleepAnalysis"
USED_TYPES = frozenset({SDNN_TYPE, RESTING_HR_TYPE, SLEEP_TYPE})

MAX_SOURCE_CHARS = 200  # the ingest API's limit for sourceDevice
# MetadataEntry children read per record; Apple writes a handful. Each costs a parse in Python, so
# past this a record is broken and the rest of its children are stepped over in C.
MAX_METADATA = 1000

# A used type name followed by its closing quote; whether it is a Record's type attribute is checked
# on the parsed tag, so other attributes that happen to hold the name are harmless.
CANDIDATE = re.compile(
    rb"HK(?:QuantityTypeIdentifier(?:HeartRateVariabilitySDNN|RestingHeartRate)"
    rb"|CategoryTypeIdentifierSleepAnalysis)[\"']"
)
USED_TYPE_BYTES = frozenset(t.encode() for t in USED_TYPES)
TYPE_BEFORE = re.compile(rb"\stype\s*=\s*[\"']\Z")
_METADATA_TAG = re.compile(rb"<MetadataEntry" + ATTRIBUTES + rb"/?>")
_USER_ENTERED = (b"1", b"true")


@dataclass(frozen=True, slots=True)
class AppleRecord:
    type: str
    source_name: str
    start: datetime  # aware, in the record's own UTC offset
    end: datetime
    value: str | None
    unit: str | None
    user_entered: bool = False  # HKWasUserEntered: typed in by the athlete, not measured


class Invalid:
    """A used record that cannot be read; counted as skipped by import_days."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class OpenRecord:
    """A used ``Record`` whose children (up to ``</Record>``) are not all read yet."""

    __slots__ = ("entries", "problem", "record", "scan_from", "user_entered", "where")

    def __init__(self, record: AppleRecord, where: str, scan_from: int) -> None:
        self.record = record
        self.where = where
        self.scan_from = scan_from  # absolute offset the children are read up to
        self.user_entered = record.user_entered
        self.problem: str | None = None
        self.entries = 0  # MetadataEntry children read

    def result(self) -> AppleRecord | Invalid:
        if self.problem is not None:
            return Invalid(f"{self.where}: {self.problem}")
        return replace(self.record, user_entered=True) if self.user_entered else self.record


def read_metadata(record: OpenRecord, buf: bytes, at: int) -> None:
    """Read the ``MetadataEntry`` tag at ``buf[at]`` into the open record it belongs to."""
    tag = _METADATA_TAG.match(buf, at)
    try:
        if tag is None:
            raise Broken("a MetadataEntry that is not well-formed XML")
        attributes = split_attributes(tag.group(1))
        key = attributes.get(b"key")
        value = attributes.get(b"value")
        if key is not None and attribute_value(key) == "HKWasUserEntered" and value is not None:
            record.user_entered = attribute_value(value).strip().lower().encode() in _USER_ENTERED
    except Broken as exc:
        record.problem = record.problem or str(exc)


def read_record(
    raw: bytes, zone: ZoneInfo | timezone, line: Callable[[], int]
) -> AppleRecord | Invalid | None:
    """The record of a ``Record`` start tag whose attributes are ``raw``; None when its type is not
    one we use. ``line()`` is its line number, counted only for a used type."""
    try:
        attributes = split_attributes(raw)
    except Broken as exc:
        attributes, problem = {}, str(exc)
    else:
        problem = ""
    type_raw = attributes.get(b"type")
    if type_raw is None:
        if not problem:
            return None
        # The attributes cannot be split reliably; the candidate that led here names the type.
        found = CANDIDATE.search(raw)
        if found is None or not TYPE_BEFORE.search(raw, max(0, found.start() - 64), found.start()):
            return None
        type_raw = found.group()[:-1]
    if type_raw not in USED_TYPE_BYTES:
        return None
    type_ = type_raw.decode()
    where = f"{short_name(type_)} at line {line()}"
    if problem:
        return Invalid(f"{where}: {problem}")
    try:
        text = {key: attribute_value(value) for key, value in attributes.items()}
    except Broken as exc:
        return Invalid(f"{where}: {exc}")
    # Cut to what the ingest API stores: a longer name would refuse the whole import there.
    source = (text.get(b"sourceName") or "unknown source")[:MAX_SOURCE_CHARS]
    start_text, end_text = text.get(b"startDate"), text.get(b"endDate")
    try:
        start = parse_when(start_text, zone)
        end = parse_when(end_text, zone)
    except ValueError:
        dates = f"{quoted(start_text)}/{quoted(end_text)}"
        return Invalid(f"{where} from {shown(source)}: unreadable date {dates}")
    # Exports from before iOS 9 wrote metadata as attributes of the Record itself.
    entered = text.get(b"HKWasUserEntered", "").strip().lower().encode() in _USER_ENTERED
    return AppleRecord(type_, source, start, end, text.get(b"value"), text.get(b"unit"), entered)


def parse_when(text: str | None, zone: ZoneInfo | timezone) -> datetime:
    """An export's date attribute (zone: for one without an offset); ValueError when unreadable."""
    if not text:
        raise ValueError("missing")
    text = text.strip()
    # "2024-01-01 23:00:00 -0800" → "2024-01-01 23:00:00-0800", which fromisoformat reads (in C).
    if len(text) == 25 and text[19] == " ":
        text = text[:19] + text[20:]
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def short_name(type_: str) -> str:
    return {SDNN_TYPE: "SDNN", RESTING_HR_TYPE: "resting HR", SLEEP_TYPE: "sleep"}.get(type_, type_)


def zone_named(name: str) -> ZoneInfo | timezone:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
