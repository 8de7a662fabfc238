"""Apple Health export import: stream ``export.xml`` (or ``export.zip``) into canonical daily payloads.

Pure: no database, no HTTP. :func:`import_days` returns the HRV and sleep payloads in the ingest API's
shape (CONTRACT.md, minus ``userId``) and a summary; the caller stores them, or nothing when this
raises :class:`AppleHealthError`.

How the file is read
    Exports run to hundreds of MB, almost all of it records we do not use (heart rate, energy, steps,
    each with a long ``device`` string, plus beat-to-beat lists under every SDNN record). Every byte
    still goes through expat, which checks that the document is well-formed and that its root is
    ``HealthData``, but expat runs without per-element Python callbacks: that costs ~30 % of the
    throughput (measured 105 vs 137 MB/s; ``ElementTree.iterparse`` 95 MB/s). The few ``Record`` start
    tags of the three types we use are found in the same bytes by searching for their type names, and
    parsed with a strict start-tag pattern. Comments, CDATA sections and processing instructions in the
    body are tracked so that nothing inside them is taken for a record. Memory stays flat: one 1 MiB
    chunk, expat's own buffer, and compact per-record columns of the records we keep.

How nights become days (DESIGN.md §2)
    Sleep: per source (``sourceName``), records less than :data:`BLOCK_GAP` apart form a block whose
    asleep time is the union of its asleep stages minus that source's Awake, so overlapping or
    duplicated records never count twice. Naps (asleep < 3 h, ending 10:00–20:00 local) are dropped.
    Blocks of all sources whose in-bed windows overlap are one sleep episode, in which one source wins
    and sources are never summed: a source with stages (Core/Deep/REM, i.e. the Watch) unless it saw
    less than half the sleep of the longest one (a Watch that ran flat), else the longest asleep time.
    The episode belongs to the local date, in the records' own UTC offset, on which the winner's last
    asleep interval ends (the wake date); of two episodes waking on one date the longer is the night.
    Of the winner: ``inBedMin`` is its InBed span (widened to cover its asleep time), else its first to
    last record; ``latencyMin`` only when an InBed or a leading Awake record says when bedtime was;
    ``wakeCount`` counts interruptions between asleep intervals that are marked Awake or last ≥ 5 min.
    HRV: Apple's ``HeartRateVariabilitySDNN`` is SDNN and is only ever emitted as ``sdnn``. Nightly SDNN
    is the **median** of the samples inside the chosen night's in-bed window (median, because a night
    has 1–4 samples and one motion-corrupted reading should not move the value), from the night's own
    source when it has any; with no night for the date, the samples taken 00:00–10:00 local on it.
    Resting HR: Apple's one value per day, on the local date of its start.
"""

from __future__ import annotations

import array
import bisect
import itertools
import os
import re
import statistics
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, cast
from xml.parsers import expat
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "RESTING_HR_TYPE",
    "SDNN_TYPE",
    "SLEEP_TYPE",
    "AppleHealthError",
    "AppleRecord",
    "ImportSummary",
    "import_days",
    "iter_records",
    "open_export",
]

SDNN_TYPE = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
RESTING_HR_TYPE = "HKQuantityTypeIdentifierRestingHeartRate"
SLEEP_TYPE = "HKCategoryTypeIdentifierSleepAnalysis"
USED_TYPES = frozenset({SDNN_TYPE, RESTING_HR_TYPE, SLEEP_TYPE})

VENDOR = "apple"
CHUNK_BYTES = 1 << 20
MAX_ERRORS = 20

SDNN_RANGE = (1.0, 300.0)
RESTING_HR_RANGE = (25.0, 120.0)
MAX_SLEEP_MIN = 1440.0
BLOCK_GAP = 3600  # s; a longer silence inside one source's records ends a sleep block
NAP_MAX_ASLEEP = 3 * 3600
NAP_END_WINDOW = (10 * 3600, 20 * 3600)  # local seconds of day
WAKE_GAP = 300  # an unlabelled gap this long between asleep intervals counts as a wake
FALLBACK_HRV_UNTIL = 10 * 3600
STAGED_MIN_SHARE = 0.5
EARLIEST_DATE = date(2000, 1, 1)  # the ingest API refuses older dates

_IN_BED, _AWAKE, _ASLEEP, _CORE, _DEEP, _REM = range(6)
_STAGES = {
    "HKCategoryValueSleepAnalysisInBed": _IN_BED,
    "HKCategoryValueSleepAnalysisAwake": _AWAKE,
    "HKCategoryValueSleepAnalysisAsleepUnspecified": _ASLEEP,
    "HKCategoryValueSleepAnalysisAsleep": _ASLEEP,  # exports from before iOS 16
    "HKCategoryValueSleepAnalysisAsleepCore": _CORE,
    "HKCategoryValueSleepAnalysisAsleepDeep": _DEEP,
    "HKCategoryValueSleepAnalysisAsleepREM": _REM,
}


class AppleHealthError(ValueError):
    """The file cannot be imported; the message is one line a user can act on."""


@dataclass(frozen=True)
class ImportSummary:
    records: int  # Record elements of the three types we use
    days: int  # distinct wake dates with at least one payload
    skipped: int  # records, nights and days left out
    errors: list[str]  # why, for the first MAX_ERRORS of them


@dataclass(frozen=True, slots=True)
class AppleRecord:
    type: str
    source_name: str
    start: datetime  # aware, in the record's own UTC offset
    end: datetime
    value: str | None
    unit: str | None


# --------------------------------------------------------------------------------------------
# Opening: export.xml or export.zip
# --------------------------------------------------------------------------------------------


@contextmanager
def _open(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    path = Path(path)
    with ExitStack() as stack:
        # Only opening is translated here: errors raised while the caller reads are the caller's.
        try:
            if zipfile.is_zipfile(path):
                archive = stack.enter_context(zipfile.ZipFile(path))
                member = _export_member(archive, path.name)
                stream = cast(BinaryIO, stack.enter_context(archive.open(member)))
                size = member.file_size
            else:
                stream = stack.enter_context(open(path, "rb"))
                size = os.fstat(stream.fileno()).st_size
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
            # RuntimeError: an encrypted member; NotImplementedError: an unsupported compression.
            raise AppleHealthError(f"{path.name} is not a readable zip archive: {exc}") from None
        except OSError as exc:
            raise AppleHealthError(f"cannot read {path}: {exc.strerror or exc}") from None
        yield stream, size


def _export_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    candidates = [
        info
        for info in archive.infolist()
        if info.filename.rsplit("/", 1)[-1].lower() == "export.xml"
        and not info.filename.startswith("__MACOSX/")
    ]
    if not candidates:
        found = ", ".join(archive.namelist()[:5]) or "nothing"
        raise AppleHealthError(f"{name} contains no export.xml (found: {found}); is it a Health app export?")
    # The Health app writes apple_health_export/export.xml; prefer the shallowest otherwise.
    return min(
        candidates, key=lambda i: (i.filename != "apple_health_export/export.xml", i.filename.count("/"))
    )


def open_export(path: Path) -> AbstractContextManager[BinaryIO]:
    """``export.xml`` or ``export.zip`` (its ``apple_health_export/export.xml``) as a binary stream.

    A zip member is decompressed as it is read, never extracted. Errors are :class:`AppleHealthError`.
    """

    @contextmanager
    def stream() -> Iterator[BinaryIO]:
        with _open(path) as (binary, _size):
            yield binary

    return stream()


# --------------------------------------------------------------------------------------------
# Scanning: expat checks every byte, a byte search finds the records we use
# --------------------------------------------------------------------------------------------

# A used type name followed by its closing quote; whether it is a Record's type attribute is checked
# on the parsed tag, so other attributes that happen to hold the name are harmless.
_CANDIDATE = re.compile(
    rb"HK(?:QuantityTypeIdentifier(?:HeartRateVariabilitySDNN|RestingHeartRate)"
    rb"|CategoryTypeIdentifierSleepAnalysis)[\"']"
)
_RECORD_TAG = re.compile(rb"<Record((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>")
_ATTRIBUTE = re.compile(rb"([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_OPENER = re.compile(rb"<[!?]")
_OPAQUE = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_SPACES = str.maketrans("\t\n\r", "   ")


def _entity(match: re.Match[str]) -> str:
    ref = match.group(1)
    if ref[0] != "#":
        return _NAMED[ref]
    return chr(int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:]))


def _attribute_value(raw: bytes) -> str:
    text = raw.decode("utf-8")
    if "&" in text or "\n" in text or "\t" in text or "\r" in text:
        # XML attribute-value normalisation: literal whitespace becomes spaces, references expand after.
        text = _ENTITY.sub(_entity, text.translate(_SPACES))
    return text


class _Invalid:
    """A used record that cannot be read (bad date); counted as skipped by import_days."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Scanner:
    """Feeds chunks to expat and pulls the used ``Record`` start tags out of the same bytes.

    ``buf`` = the carried tail of the previous chunk + the new chunk; only ``buf[:cut]`` is searched,
    where ``cut`` is the last ``<``, so every tag in the searched part is complete (``<`` cannot occur
    inside a tag) and was already accepted by expat.
    """

    def __init__(self, zone: ZoneInfo | timezone) -> None:
        parser = expat.ParserCreate()
        parser.XmlDeclHandler = self._declaration
        parser.EntityDeclHandler = self._entity_declaration
        parser.StartElementHandler = self._root
        self._parser = parser
        self._zone = zone
        self._root_at = -1  # absolute offset of "<HealthData"; nothing before it is searched
        self._base = 0  # absolute offset of carry[0]
        self._carry = b""
        self._fed = 0
        self._opaque_until = 0  # absolute end of the comment/CDATA/PI the search is inside
        self._pending_close: bytes | None = None  # its terminator when that end is not seen yet
        self._pending_from = 0

    # expat callbacks, active only until the root element is seen ------------------------------

    def _declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
            raise AppleHealthError(f"export.xml declares encoding {encoding}; Apple Health exports are UTF-8")

    def _entity_declaration(self, name: str, is_parameter: int, value: str | None, *rest: Any) -> None:
        # Markup hidden in an entity would reach expat but not the byte search; Apple declares none.
        if not is_parameter and value and "<" in value:
            raise AppleHealthError(f"not an Apple Health export: its DTD declares markup in entity {name!r}")

    def _root(self, name: str, attributes: dict[str, str]) -> None:
        if name != "HealthData":
            raise AppleHealthError(
                f"not an Apple Health export: the root element is <{name}>, not <HealthData>"
            )
        self._root_at = self._parser.CurrentByteIndex
        self._parser.StartElementHandler = None  # from here on expat runs without Python callbacks

    # ------------------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> list[AppleRecord | _Invalid]:
        if self._fed == 0 and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise AppleHealthError("export.xml is UTF-16; Apple Health exports are UTF-8")
        self._parse(chunk, final=False)
        self._fed += len(chunk)
        buf = self._carry + chunk if self._carry else chunk
        base = self._base
        cut = buf.rfind(b"<")
        if cut < 0:  # inside one long token (or text); keep it all until a tag starts
            self._carry = buf
            return []
        found: list[AppleRecord | _Invalid] = []
        if self._root_at >= 0:
            lo = max(0, self._root_at - base)
            found = self._search(buf, base, lo, cut)
        self._carry = buf[cut:]
        self._base = base + cut
        return found

    def close(self) -> None:
        if self._fed == 0:
            raise AppleHealthError("the file is empty; expected an Apple Health export.xml")
        self._parse(b"", final=True)
        if self._root_at < 0:  # pragma: no cover - expat reports "no element found" first
            raise AppleHealthError("not an Apple Health export: no <HealthData> element")

    def release(self) -> None:
        # The handlers are bound methods of self, a cycle that would keep expat's buffer (about a
        # chunk) alive until the cyclic GC runs.
        self._parser.XmlDeclHandler = None
        self._parser.EntityDeclHandler = None
        self._parser.StartElementHandler = None
        self._carry = b""

    def _parse(self, data: bytes, *, final: bool) -> None:
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            reason = expat.ErrorString(exc.code)
            where = f"line {exc.lineno}, column {exc.offset + 1}"
            if self._root_at < 0:
                raise AppleHealthError(f"not an Apple Health export: not XML ({reason} at {where})") from None
            hint = " (the file ends early: an incomplete download or copy?)" if final else ""
            raise AppleHealthError(f"malformed XML at {where}: {reason}{hint}") from None

    def _opaque_spans(self, buf: bytes, base: int, lo: int, cut: int) -> list[tuple[int, int]]:
        """Spans of ``buf[lo:cut]`` inside comments, CDATA sections or processing instructions."""
        spans: list[tuple[int, int]] = []
        pos = lo
        if self._pending_close is not None:
            end = buf.find(self._pending_close, max(self._pending_from - base, 0))
            if end < 0:
                self._pending_from = base + max(len(buf) - len(self._pending_close) + 1, 0)
                return [(lo, len(buf))]
            self._opaque_until = base + end + len(self._pending_close)
            self._pending_close = None
        if self._opaque_until > base + lo:
            pos = self._opaque_until - base
            spans.append((lo, pos))
        while pos < cut:
            match = _OPENER.search(buf, pos, cut)
            if match is None:
                break
            start = match.start()
            for opener, closer in _OPAQUE:
                if buf.startswith(opener, start):
                    end = buf.find(closer, start + len(opener))
                    if end < 0:
                        self._pending_close, self._pending_from = closer, base + start + len(opener)
                        spans.append((start, len(buf)))
                        return spans
                    pos = end + len(closer)
                    self._opaque_until = base + pos
                    spans.append((start, pos))
                    break
            else:  # "<!" of a declaration cannot occur after the root; expat has accepted these bytes
                pos = start + 2
        return spans

    def _search(self, buf: bytes, base: int, lo: int, cut: int) -> list[AppleRecord | _Invalid]:
        spans = self._opaque_spans(buf, base, lo, cut)
        out: list[AppleRecord | _Invalid] = []
        last_tag = -1
        span_index = 0
        for match in _CANDIDATE.finditer(buf, lo, cut):
            at = match.start()
            while span_index < len(spans) and spans[span_index][1] <= at:
                span_index += 1
            if span_index < len(spans) and spans[span_index][0] <= at:
                continue
            tag_start = buf.rfind(b"<", 0, at)
            if tag_start == last_tag or tag_start < 0:
                continue
            last_tag = tag_start
            tag = _RECORD_TAG.match(buf, tag_start)
            if tag is None:
                continue
            attributes = {
                m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
                for m in _ATTRIBUTE.finditer(tag.group(1))
            }
            type_ = attributes.get(b"type")
            if type_ is None or _attribute_value(type_) not in USED_TYPES:
                continue
            out.append(self._record(attributes))
        return out

    def _record(self, attributes: dict[bytes, bytes]) -> AppleRecord | _Invalid:
        def text(key: bytes) -> str | None:
            raw = attributes.get(key)
            return None if raw is None else _attribute_value(raw)

        type_ = text(b"type") or ""
        source = text(b"sourceName") or "unknown source"
        start_text, end_text = text(b"startDate"), text(b"endDate")
        try:
            start = _parse_when(start_text, self._zone)
            end = _parse_when(end_text, self._zone)
        except ValueError:
            return _Invalid(f"{_short(type_)} from {source}: unreadable date {start_text!r}/{end_text!r}")
        return AppleRecord(type_, source, start, end, text(b"value"), text(b"unit"))


def _parse_when(text: str | None, zone: ZoneInfo | timezone) -> datetime:
    if not text:
        raise ValueError("missing")
    text = text.strip()
    # "2024-01-01 23:00:00 -0800" → "2024-01-01 23:00:00-0800", which fromisoformat reads (in C).
    if len(text) == 25 and text[19] == " ":
        text = text[:19] + text[20:]
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _short(type_: str) -> str:
    return {SDNN_TYPE: "SDNN", RESTING_HR_TYPE: "resting HR", SLEEP_TYPE: "sleep"}.get(type_, type_)


def _zone(name: str) -> ZoneInfo | timezone:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _read(stream: BinaryIO) -> bytes:
    try:
        return stream.read(CHUNK_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise AppleHealthError(f"the export archive is damaged: {exc}") from None
    except OSError as exc:
        raise AppleHealthError(f"cannot read the export: {exc}") from None


def _scan(
    stream: BinaryIO, zone: ZoneInfo | timezone, on_read: Callable[[int], None] | None
) -> Iterator[AppleRecord | _Invalid]:
    scanner = _Scanner(zone)
    try:
        while chunk := _read(stream):
            yield from scanner.feed(chunk)
            if on_read is not None:
                on_read(len(chunk))
        scanner.close()
    finally:
        scanner.release()


def iter_records(stream: BinaryIO, *, default_tz: str = "UTC") -> Iterator[AppleRecord]:
    """The SDNN, resting-HR and sleep ``Record`` elements of an export, in document order, streaming.

    Dates keep their own UTC offset; a date written without one is read in ``default_tz``. Records
    whose dates cannot be read are left out (:func:`import_days` counts them). Raises
    :class:`AppleHealthError` for a file that is not a well-formed ``HealthData`` document, when the
    problem is reached: records yielded before it come from a file that turned out to be broken.
    """
    for item in _scan(stream, _zone(default_tz), None):
        if isinstance(item, AppleRecord):
            yield item


# --------------------------------------------------------------------------------------------
# Day aggregation
# --------------------------------------------------------------------------------------------


def _epoch(value: datetime) -> tuple[int, int]:
    offset = value.utcoffset()
    return int(value.timestamp()), int(offset.total_seconds()) if offset is not None else 0


def _iso(epoch: int, offset: int) -> str:
    return datetime.fromtimestamp(epoch, timezone(timedelta(seconds=offset))).isoformat()


def _local_day(epoch: int, offset: int) -> tuple[date, int]:
    days, seconds = divmod(epoch + offset, 86400)
    return date(1970, 1, 1) + timedelta(days=days), seconds


Interval = tuple[int, int]


def _union(intervals: list[Interval]) -> list[Interval]:
    """Merge overlapping and touching intervals (sorted by start)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(keep: list[Interval], remove: list[Interval]) -> list[Interval]:
    """``keep`` minus ``remove``; both merged and sorted."""
    out: list[Interval] = []
    j = 0
    for start, end in keep:
        while j < len(remove) and remove[j][1] <= start:
            j += 1
        k = j
        cursor = start
        while k < len(remove) and remove[k][0] < end:
            if remove[k][0] > cursor:
                out.append((cursor, remove[k][0]))
            cursor = max(cursor, remove[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


@dataclass(frozen=True)
class _Night:
    source: str
    wake_date: date
    wake: int  # epoch of the end of the last asleep interval
    wake_offset: int
    asleep: int  # seconds
    in_bed_start: int
    in_bed_end: int
    latency: int | None
    wakes: int
    staged: bool


class _SleepColumns:
    """One source's sleep records as compact columns (tens of thousands of records for years of data)."""

    __slots__ = ("end", "offset", "stage", "start")

    def __init__(self) -> None:
        self.start = array.array("q")
        self.end = array.array("q")
        self.offset = array.array("i")  # UTC offset of the end date
        self.stage = array.array("b")


class _Days:
    def __init__(self) -> None:
        self.records = 0
        self.skipped = 0
        self.errors: list[str] = []
        self._sources: list[str] = []
        self._source_ids: dict[str, int] = {}
        self._sleep: dict[str, _SleepColumns] = {}
        self._hrv_start = array.array("q")
        self._hrv_offset = array.array("i")
        self._hrv_end = array.array("q")
        self._hrv_end_offset = array.array("i")
        self._hrv_value = array.array("d")
        self._hrv_source = array.array("i")
        self._rhr: dict[date, tuple[float, int, int, str]] = {}

    def skip(self, reason: str) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(reason)

    def add(self, item: AppleRecord | _Invalid) -> None:
        self.records += 1
        if isinstance(item, _Invalid):
            self.skip(item.reason)
            return
        start, start_offset = _epoch(item.start)
        end, end_offset = _epoch(item.end)
        where = f"{item.start.isoformat(sep=' ')} from {item.source_name}"
        if end < start:
            self.skip(f"{_short(item.type)} at {where}: ends before it starts")
            return
        if item.type == SLEEP_TYPE:
            stage = _STAGES.get(item.value or "")
            if stage is None:
                self.skip(f"sleep at {where}: unknown value {item.value!r}")
                return
            columns = self._sleep.get(item.source_name)
            if columns is None:
                columns = self._sleep[item.source_name] = _SleepColumns()
            columns.start.append(start)
            columns.end.append(end)
            columns.offset.append(end_offset)
            columns.stage.append(stage)
            return
        value = self._number(item, where)
        if value is None:
            return
        if item.type == SDNN_TYPE:
            source = self._source_ids.get(item.source_name)
            if source is None:
                source = self._source_ids[item.source_name] = len(self._sources)
                self._sources.append(item.source_name)
            self._hrv_start.append(start)
            self._hrv_offset.append(start_offset)
            self._hrv_end.append(end)
            self._hrv_end_offset.append(end_offset)
            self._hrv_value.append(value)
            self._hrv_source.append(source)
        else:
            day, _ = _local_day(start, start_offset)
            previous = self._rhr.get(day)
            # Apple writes one per day; should a second source write one too, keep the later-ending
            # (fuller-day) value rather than averaging two devices.
            if previous is None or end > previous[1]:
                self._rhr[day] = (value, end, end_offset, item.source_name)

    def _number(self, item: AppleRecord, where: str) -> float | None:
        is_sdnn = item.type == SDNN_TYPE
        name, unit, (low, high) = (
            ("SDNN", "ms", SDNN_RANGE) if is_sdnn else ("resting HR", "count/min", RESTING_HR_RANGE)
        )
        if item.unit not in (None, unit):
            self.skip(f"{name} at {where}: unit {item.unit!r}, expected {unit}")
            return None
        try:
            value = float(item.value or "")
        except ValueError:
            self.skip(f"{name} at {where}: value {item.value!r} is not a number")
            return None
        if not low <= value <= high:
            self.skip(f"{name} {value:g} {unit} at {where} is outside {low:g}–{high:g}")
            return None
        return value

    # ------------------------------------------------------------------------------------------

    def _nights(self) -> dict[date, _Night]:
        # Blocks of every source, naps dropped; overlapping in-bed windows (any source) form one
        # sleep episode, so a source's fragment (a Watch that ran flat at 23:40) is never dated on
        # its own but competes inside the episode it belongs to.
        blocks: list[tuple[int, int, str, list[int], _Night]] = []
        for source, columns in self._sleep.items():
            for block in _blocks(columns):
                night = _night(source, columns, block)
                if night is not None and not _is_nap(night):
                    blocks.append((night.in_bed_start, night.in_bed_end, source, block, night))
        blocks.sort(key=lambda b: (b[0], b[1], b[2]))
        episodes: list[list[tuple[int, int, str, list[int], _Night]]] = []
        episode_end = 0
        for block_info in blocks:
            if episodes and block_info[0] <= episode_end:
                episodes[-1].append(block_info)
                episode_end = max(episode_end, block_info[1])
            else:
                episodes.append([block_info])
                episode_end = block_info[1]
        chosen: dict[date, _Night] = {}
        for episode in episodes:
            night = self._choose(episode)
            # Two separate episodes waking on one date (split sleep): the longer is the main sleep.
            if night is not None and (
                night.wake_date not in chosen or night.asleep > chosen[night.wake_date].asleep
            ):
                chosen[night.wake_date] = night
        return chosen

    def _choose(self, episode: list[tuple[int, int, str, list[int], _Night]]) -> _Night | None:
        per_source: dict[str, list[tuple[list[int], _Night]]] = {}
        for _, _, source, block, night in episode:
            per_source.setdefault(source, []).append((block, night))
        nights: list[_Night] = []
        for source, parts in per_source.items():
            if len(parts) == 1:
                night = parts[0][1]
            else:  # one source's blocks bridged by another source: one night of that source
                merged = _night(source, self._sleep[source], [i for block, _ in parts for i in block])
                assert merged is not None
                night = merged
            asleep_min = night.asleep / 60
            in_bed_min = (night.in_bed_end - night.in_bed_start) / 60
            if asleep_min > MAX_SLEEP_MIN or in_bed_min > MAX_SLEEP_MIN:
                longest = max(asleep_min, in_bed_min)
                limit = f"{MAX_SLEEP_MIN:.0f}"
                self.skip(f"sleep ending {night.wake_date} from {source}: {longest:.0f} min is over {limit}")
                continue
            nights.append(night)
        if not nights:
            return None
        longest_asleep = max(n.asleep for n in nights)
        return max(
            nights,
            key=lambda n: (n.staged and n.asleep >= STAGED_MIN_SHARE * longest_asleep, n.asleep, n.source),
        )

    def _sdnn(
        self, nights: dict[date, _Night]
    ) -> dict[date, tuple[float, str, int, int]]:  # day → (median, source, captured epoch, offset)
        order = sorted(range(len(self._hrv_start)), key=self._hrv_start.__getitem__)
        starts = [self._hrv_start[i] for i in order]
        result: dict[date, tuple[float, str, int, int]] = {}
        for day, night in nights.items():
            lo = bisect.bisect_left(starts, night.in_bed_start)
            hi = bisect.bisect_right(starts, night.in_bed_end)
            picked = self._one_source([order[k] for k in range(lo, hi)], prefer=night.source)
            if picked:
                values = [self._hrv_value[i] for i in picked]
                result[day] = (
                    statistics.median(values),
                    self._sources[self._hrv_source[picked[0]]],
                    night.wake,
                    night.wake_offset,
                )
        mornings: dict[date, list[int]] = {}
        for i in order:
            day, seconds = _local_day(self._hrv_start[i], self._hrv_offset[i])
            if seconds < FALLBACK_HRV_UNTIL and day not in nights:
                mornings.setdefault(day, []).append(i)
        for day, indexes in mornings.items():
            picked = self._one_source(indexes, prefer=None)
            last = max(picked, key=self._hrv_end.__getitem__)
            result[day] = (
                statistics.median(self._hrv_value[i] for i in picked),
                self._sources[self._hrv_source[last]],
                self._hrv_end[last],
                self._hrv_end_offset[last],
            )
        return result

    def _one_source(self, indexes: list[int], prefer: str | None) -> list[int]:
        """The samples of one source: the night's sleep source if it has any, else the busiest."""
        if not indexes:
            return []
        by_source: dict[int, list[int]] = {}
        for i in indexes:
            by_source.setdefault(self._hrv_source[i], []).append(i)
        preferred = self._source_ids.get(prefer) if prefer is not None else None
        if preferred is not None and preferred in by_source:
            return by_source[preferred]
        return max(by_source.items(), key=lambda kv: (len(kv[1]), self._sources[kv[0]]))[1]

    def payloads(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        nights = self._nights()
        sdnn = self._sdnn(nights)
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        hrv_out: list[dict[str, Any]] = []
        sleep_out: list[dict[str, Any]] = []
        for day in sorted(set(nights) | set(sdnn) | set(self._rhr)):
            if not EARLIEST_DATE <= day <= tomorrow:
                self.skip(f"day {day}: outside {EARLIEST_DATE}..{tomorrow} (device clock?)")
                continue
            night = nights.get(day)
            if night is not None:
                sleep_out.append(_sleep_payload(day, night))
            hrv = sdnn.get(day)
            rhr = self._rhr.get(day)
            if hrv is None and rhr is None:
                continue
            payload: dict[str, Any] = {"date": day.isoformat()}
            if hrv is not None:
                payload["sdnn"] = round(hrv[0], 2)
            if rhr is not None:
                payload["restingHr"] = rhr[0]
            payload["vendor"] = VENDOR
            if night is not None:
                captured, offset = night.wake, night.wake_offset
            else:
                captured, offset = max(
                    ([(hrv[2], hrv[3])] if hrv else []) + ([(rhr[1], rhr[2])] if rhr else [])
                )
            payload["capturedAt"] = _iso(captured, offset)
            if hrv is not None:
                payload["sourceDevice"] = hrv[1]
            elif rhr is not None:
                payload["sourceDevice"] = rhr[3]
            hrv_out.append(payload)
        return hrv_out, sleep_out


def _blocks(columns: _SleepColumns) -> Iterator[list[int]]:
    order = sorted(range(len(columns.start)), key=lambda i: (columns.start[i], columns.end[i]))
    block: list[int] = []
    block_end = 0
    for i in order:
        if block and columns.start[i] > block_end + BLOCK_GAP:
            yield block
            block = []
        if not block:
            block_end = columns.end[i]
        block.append(i)
        block_end = max(block_end, columns.end[i])
    if block:
        yield block


def _night(source: str, columns: _SleepColumns, block: list[int]) -> _Night | None:
    asleep_raw: list[Interval] = []
    awake_raw: list[Interval] = []
    in_bed_raw: list[Interval] = []
    staged = False
    for i in block:
        stage = columns.stage[i]
        interval = (columns.start[i], columns.end[i])
        if stage == _IN_BED:
            in_bed_raw.append(interval)
        elif stage == _AWAKE:
            awake_raw.append(interval)
        else:
            asleep_raw.append(interval)
            staged = staged or stage in (_CORE, _DEEP, _REM)
    awake = _union(awake_raw)
    # Within one source an Awake record overrides an asleep one it overlaps (third-party apps write both).
    asleep = _subtract(_union(asleep_raw), awake)
    if not asleep:
        return None
    wake = asleep[-1][1]
    last = max(block, key=lambda i: (columns.end[i] <= wake, columns.end[i]))
    wake_offset = columns.offset[last]
    block_start = min(columns.start[i] for i in block)
    block_end = max(columns.end[i] for i in block)
    if in_bed_raw:
        in_bed = _union(in_bed_raw)
        in_bed_start, in_bed_end = min(in_bed[0][0], asleep[0][0]), max(in_bed[-1][1], wake)
    else:
        in_bed_start, in_bed_end = block_start, block_end
    # Latency is only known when something says the athlete was in bed before falling asleep.
    latency = asleep[0][0] - in_bed_start if in_bed_raw or in_bed_start < asleep[0][0] else None
    wakes = 0
    j = 0
    for (_, gap_start), (gap_end, _) in itertools.pairwise(asleep):
        while j < len(awake) and awake[j][1] <= gap_start:
            j += 1
        marked = j < len(awake) and awake[j][0] < gap_end
        if marked or gap_end - gap_start >= WAKE_GAP:
            wakes += 1
    return _Night(
        source=source,
        wake_date=_local_day(wake, wake_offset)[0],
        wake=wake,
        wake_offset=wake_offset,
        asleep=sum(end - start for start, end in asleep),
        in_bed_start=in_bed_start,
        in_bed_end=in_bed_end,
        latency=latency,
        wakes=wakes,
        staged=staged,
    )


def _is_nap(night: _Night) -> bool:
    _, seconds = _local_day(night.wake, night.wake_offset)
    return night.asleep < NAP_MAX_ASLEEP and NAP_END_WINDOW[0] <= seconds <= NAP_END_WINDOW[1]


def _sleep_payload(day: date, night: _Night) -> dict[str, Any]:
    asleep_min = night.asleep / 60
    in_bed_min = (night.in_bed_end - night.in_bed_start) / 60
    payload: dict[str, Any] = {"date": day.isoformat(), "durationMin": round(asleep_min, 1)}
    if in_bed_min > 0:
        payload["efficiencyPct"] = round(min(100.0, asleep_min / in_bed_min * 100), 1)
    if night.latency is not None:
        payload["latencyMin"] = round(night.latency / 60, 1)
    payload["wakeCount"] = night.wakes
    payload["inBedMin"] = round(in_bed_min, 1)
    payload["vendor"] = VENDOR
    payload["capturedAt"] = _iso(night.wake, night.wake_offset)
    payload["sourceDevice"] = night.source
    return payload


def import_days(
    path: Path, *, default_tz: str = "UTC", progress: Callable[[int, int], None] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], ImportSummary]:
    """Read a whole export and return ``(hrv_payloads, sleep_payloads, summary)``, by date.

    Payloads are in the ingest API's shape without ``userId`` (optional fields left out when unknown).
    ``progress(bytes_read, total_bytes)`` is called after every chunk (total = uncompressed size).
    Raises :class:`AppleHealthError` for anything that is not a complete, well-formed export; nothing is
    returned from a file that fails part-way.
    """
    zone = _zone(default_tz)
    days = _Days()
    with _open(path) as (stream, total):
        read = 0

        def on_read(size: int) -> None:
            nonlocal read
            read += size
            if progress is not None:
                progress(read, max(total, read))

        for item in _scan(stream, zone, on_read):
            days.add(item)
    hrv, sleep = days.payloads()
    summary = ImportSummary(
        records=days.records,
        days=len({p["date"] for p in hrv} | {p["date"] for p in sleep}),
        skipped=days.skipped,
        errors=list(days.errors),
    )
    return hrv, sleep, summary
