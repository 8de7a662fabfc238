"""Apple Health export import: stream ``export.xml`` (or ``export.zip``) into canonical daily payloads.

Pure: no database, no HTTP. :func:`import_days` returns the HRV and sleep payloads in the ingest API's
shape (docs/http-api.md, minus ``userId``) and a summary; the caller stores them, or nothing when this
raises :class:`AppleHealthError`.

How the file is read
    Exports run to hundreds of MB, almost all of it records we do not use (heart rate, energy, steps,
    each with a long ``device`` string, plus beat-to-beat lists under every SDNN record). A file is an
    export when its prolog and root start tag are XML and the root is ``HealthData``: expat checks
    that much, with the internal DTD subset blanked out first (iOS 16 writes it with broken
    declarations, and nothing declared in it is ever expanded or fetched). The body is not parsed as
    a whole: real exports carry stray control characters and broken tags in records of other apps,
    and one of them must not refuse years of data. The ``Record`` start tags of the three types we use
    are found by searching the bytes for their type names and parsed with strict patterns; each one
    is checked as expat would check it (characters, references, attributes, its children up to
    ``</Record>``), and a broken one is skipped with its line number. Comments, CDATA sections and
    processing instructions are tracked so that nothing inside them is taken for a record, and the
    file must end with ``</HealthData>``, so a cut-off download is refused rather than half imported.

Hostile files (:class:`ImportLimits`)
    Memory and time are bounded for any input, not only for real exports. Memory: one 1 MiB chunk plus
    a carried tail of at most :data:`MAX_TAG_BYTES` (no tag, comment or run of junk is ever carried
    whole), a prolog of at most :data:`MAX_PROLOG_BYTES`, compact columns of at most
    ``max_records`` kept records from at most :data:`MAX_SOURCES` sources, and a zip's central
    directory of at most :data:`MAX_ZIP_DIRECTORY_BYTES`, checked before :mod:`zipfile` loads it.
    Time: every search moves forward (no search restarts at the beginning of what is carried, no
    pattern can backtrack across a ``<``), so a file costs time in proportion to its size, and that is
    capped at ``max_xml_bytes`` uncompressed with a zip member refused up front when it claims more
    than ``max_zip_ratio`` times its compressed size (:mod:`zipfile` never inflates past the size a
    member claims). Whatever of the file a message quotes is cut to :data:`MAX_SHOWN` characters, and
    characters a terminal would act on (escape sequences, C1 controls, bidirectional overrides) are
    written as escapes (:func:`shown`).

    A record with ``<MetadataEntry key="HKWasUserEntered" value="1"/>`` was typed in by the athlete:
    its nights and days are emitted with vendor ``manual``, apart from what the devices measured.

How nights become days (docs/readiness.md#canonical-days)
    Sleep: per source (``sourceName``), records less than :data:`BLOCK_GAP` apart form a block whose
    asleep time is the union of its asleep stages minus that source's Awake, so overlapping or
    duplicated records never count twice. Naps (asleep < 3 h, ending 10:00–20:00 local) are dropped.
    Blocks of all sources whose in-bed windows overlap are one sleep episode, in which one source wins
    and sources are never summed: a source with stages (Core/Deep/REM, i.e. the Watch) unless it saw
    less than half the sleep of the longest one (a Watch that ran flat), else the longest asleep time.
    The episode belongs to the local date, in the records' own UTC offset, on which the winner's last
    asleep interval ends (the wake date); of two episodes waking on one date the longer is the night.
    ``inBedMin``, ``efficiencyPct`` and ``latencyMin`` only when an InBed record says when bedtime
    was: the winner's own, else another source's that overlaps the winner's sleep (the Watch writes
    no InBed; the iPhone's sleep schedule or a sleep app does), of the measured and the hand-entered
    records each apart (:meth:`_Signals._with_bedtime`); never made up from the asleep span, which
    would make any hand-entered night 100 % efficient. ``wakeCount`` counts interruptions
    between asleep intervals that are marked Awake or last ≥ 5 min (not for hand-entered nights, which
    say nothing about them).
    HRV: Apple's ``HeartRateVariabilitySDNN`` is SDNN and is only ever emitted as ``sdnn``. Nightly SDNN
    is the **median** of the samples inside the chosen night's in-bed window (median, because a night
    has 1–4 samples and one motion-corrupted reading should not move the value), from the night's own
    source when it has any; with no night for the date, the samples taken 00:00–10:00 local on it.
    Resting HR: Apple's one value per day, on the local date of its start.
"""

from __future__ import annotations

import array
import heapq
import itertools
import os
import re
import statistics
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, cast
from xml.parsers import expat
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

__all__ = [
    "RESTING_HR_TYPE",
    "SDNN_TYPE",
    "SLEEP_TYPE",
    "AppleHealthError",
    "AppleRecord",
    "ImportLimits",
    "ImportSummary",
    "import_days",
    "iter_records",
    "open_export",
    "shown",
]

SDNN_TYPE = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
RESTING_HR_TYPE = "HKQuantityTypeIdentifierRestingHeartRate"
SLEEP_TYPE = "HKCategoryTypeIdentifierSleepAnalysis"
USED_TYPES = frozenset({SDNN_TYPE, RESTING_HR_TYPE, SLEEP_TYPE})

VENDOR = "apple"
MANUAL = "manual"
CHUNK_BYTES = 1 << 20
MAX_ERRORS = 20
MAX_PROLOG_BYTES = 4 << 20  # Apple's DTD is about 10 KB
# The longest tag read, and so the most bytes carried from one chunk to the next. Apple's Record tags
# are under 1 KB (the longest attribute is the ~200-character device string).
MAX_TAG_BYTES = 64 << 10
TAIL_BYTES = 64 << 10
MAX_SNIFFED_MEMBERS = 64
MAX_SNIFFED_BYTES = 16 << 20  # all candidate members' prologs together
# A zip's central directory is loaded whole by zipfile. Real exports hold export.xml, export_cda.xml
# and one file per workout route or ECG: thousands of members, well under 1 MB of directory.
MAX_ZIP_MEMBERS = 50_000
MAX_ZIP_DIRECTORY_BYTES = 16 << 20
RATIO_CHECKED_FROM = 16 << 20  # a small member may compress as well as it likes: it costs nothing
MAX_SOURCES = 256  # distinct sourceName values per import; a person has a few devices and apps
MAX_SOURCE_CHARS = 200  # the ingest API's limit for sourceDevice
MAX_SHOWN = 80  # characters of the file quoted in a message
# MetadataEntry children read per record; Apple writes a handful. Each costs a parse in Python, so
# past this a record is broken and the rest of its children are stepped over in C.
MAX_METADATA = 1000
MAX_MESSAGE = 400

SDNN_RANGE = (1.0, 300.0)
RESTING_HR_RANGE = (25.0, 120.0)
MAX_SLEEP_MIN = 1440.0
MAX_LATENCY_MIN = 720.0  # the ingest API's limit
BLOCK_GAP = 3600  # s; a longer silence inside one source's records ends a sleep block
MAX_BLOCK_SPAN = 2 * 86400  # s; a block longer than this cannot hold a night of at most MAX_SLEEP_MIN
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
    """The file cannot be imported; the message is one line a user can act on.

    Messages quote the file (names, values), so they are passed through :func:`shown` once more here:
    whatever builds one, it reaches a terminal or a problem detail short and inert.
    """

    def __init__(self, message: str) -> None:
        super().__init__(shown(message, MAX_MESSAGE))


@dataclass(frozen=True)
class ImportLimits:
    """What one import may cost. Defaults fit real exports with room to spare: export.xml runs to
    1–4 GB, and export.zip compresses it 10–25 times; a file beyond a limit is refused, not cut."""

    max_xml_bytes: int = 8 << 30  # the export.xml read, uncompressed
    max_zip_ratio: float = 100.0  # uncompressed / compressed size of the zip member read
    # SDNN, resting-HR and sleep records, readable or not: what is kept of them (about 40 bytes a
    # record) is the one part of memory that grows with the file, and reading one is the costliest
    # step. Years of Watch data, phone and sleep apps together come to a few hundred thousand.
    max_records: int = 1_000_000


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` from a file as a message may quote it: every character a terminal could act on (ESC,
    C1 controls such as U+009B, bidirectional overrides, line breaks) written as a Python escape, so
    that what is printed is what the file holds, and at most ``limit`` characters of that (then how
    long the text was). Only the first ``limit`` characters are looked at: the text may be 100 MB."""
    head = text[:limit]
    if not head.isprintable():
        head = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in head)
    if len(text) <= limit and len(head) <= limit:
        return head
    return f"{head[:limit]}… ({len(text):,} characters)"


def _quoted(text: str | None) -> str:
    """A value from the file in quotes, as ``repr`` writes it (which escapes what is not printable),
    cut short like :func:`shown`."""
    if text is None:
        return "None"
    quoted = repr(text[:MAX_SHOWN])
    if len(text) <= MAX_SHOWN and len(quoted) <= MAX_SHOWN + 2:
        return quoted
    return f"{quoted[: MAX_SHOWN + 1]}… ({len(text):,} characters)"


@dataclass(frozen=True)
class ImportSummary:
    records: int  # Record elements of the three types we use
    days: int  # distinct wake dates with at least one payload
    skipped: int  # records, nights and days left out
    errors: list[str]  # why, for the first MAX_ERRORS of them
    message: str | None = None  # set when nothing could be imported, saying why


@dataclass(frozen=True, slots=True)
class AppleRecord:
    type: str
    source_name: str
    start: datetime  # aware, in the record's own UTC offset
    end: datetime
    value: str | None
    unit: str | None
    user_entered: bool = False  # HKWasUserEntered: typed in by the athlete, not measured


# --------------------------------------------------------------------------------------------
# The prolog: everything before the root start tag, internal DTD subset blanked out
# --------------------------------------------------------------------------------------------

_SPACE = re.compile(rb"[ \t\r\n]*")
_START_TAG = re.compile(rb"<([^\s/>!?<]+)(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*(/?)>")
_SUBSET_MARK = re.compile(rb"\]|<!--|<\?")
_SUBSET_END = re.compile(rb"\][ \t\r\n]*>")
# Same length, same line breaks: expat's line and column numbers still point into the real file.
_BLANK = bytes(c if c in b"\r\n" else 0x20 for c in range(256))


@dataclass(frozen=True, slots=True)
class _Prolog:
    root_start: int  # where the root start tag is, or whatever stands where it should be
    root_end: int  # just past the root start tag; -1 when root_start holds something else
    name: bytes
    empty: bool  # <HealthData/>
    doctype: tuple[int, int] | None


def _skip_space(buf: bytes, pos: int) -> int:
    space = _SPACE.match(buf, pos)
    return pos if space is None else space.end()


def _after(buf: bytes, token: bytes, start: int) -> int:
    at = buf.find(token, start)
    return -1 if at < 0 else at + len(token)


def _doctype_end(buf: bytes, pos: int) -> int:
    """End of the ``<!DOCTYPE`` whose name starts at ``pos``; -1 when it does not end in ``buf``.

    Inside the internal subset only comments and processing instructions are stepped over, not
    declarations: iOS 16 writes declarations without their closing ``>``, and a subset is never read,
    only skipped. A ``]>`` inside a quoted entity value ends it early; what follows is then junk in
    the prolog, which expat refuses.
    """
    i = pos
    while i < len(buf):
        byte = buf[i]
        if byte in b"\"'":  # a SYSTEM or PUBLIC literal may hold '[' or '>'
            i = buf.find(buf[i : i + 1], i + 1)
            if i < 0:
                return -1
        elif byte == 0x3E:  # '>': no internal subset
            return i + 1
        elif byte == 0x5B:  # '['
            break
        i += 1
    else:
        return -1
    i += 1
    while (mark := _SUBSET_MARK.search(buf, i)) is not None:
        if mark.group() == b"]":
            end = _SUBSET_END.match(buf, mark.start())
            if end is not None:
                return end.end()
            if _skip_space(buf, mark.end()) == len(buf):
                return -1  # "]   " then the chunk ends: the '>' may follow
            i = mark.end()
        else:
            i = _after(buf, b"-->" if mark.group() == b"<!--" else b"?>", mark.end())
            if i < 0:
                return -1
    return -1


def _find_prolog(buf: bytes, *, final: bool) -> _Prolog | None:
    """Step over the prolog to the root start tag; None: ``buf`` ends before it is known (unless final)."""
    pos = 3 if buf.startswith(b"\xef\xbb\xbf") else 0
    doctype: tuple[int, int] | None = None
    while True:
        pos = _skip_space(buf, pos)
        if not final and len(buf) - pos < len(b"<!DOCTYPE"):
            return None
        if buf.startswith(b"<?", pos):
            end = _after(buf, b"?>", pos + 2)
        elif buf.startswith(b"<!--", pos):
            end = _after(buf, b"-->", pos + 4)
        elif buf.startswith(b"<!DOCTYPE", pos) and doctype is None:
            end = _doctype_end(buf, pos + len(b"<!DOCTYPE"))
            if end >= 0:
                doctype = (pos, end)
        else:
            tag = _START_TAG.match(buf, pos)
            if tag is not None:
                return _Prolog(pos, tag.end(), tag.group(1), tag.group(2) == b"/", doctype)
            # A start tag cut by the chunk boundary; anything else is left to expat to describe.
            if not final and buf.startswith(b"<", pos) and len(buf) - pos < MAX_TAG_BYTES:
                return None
            return _Prolog(pos, -1, b"", False, doctype)
        if end < 0:
            if not final and len(buf) - pos < MAX_PROLOG_BYTES:
                return None
            return _Prolog(pos, -1, b"", False, doctype)
        pos = end


def _blank_doctype(head: bytes, prolog: _Prolog) -> bytes:
    if prolog.doctype is None:
        return head
    start, end = prolog.doctype
    return head[:start] + head[start:end].translate(_BLANK) + head[end:]


def _root_name(stream: BinaryIO) -> tuple[bytes | None, int]:
    """The root element's name of an XML stream, reading only as far as its start tag (at most
    :data:`MAX_PROLOG_BYTES`); and how many bytes that took."""
    head = b""
    while True:
        # Each read doubles what is held: the prolog is searched from its start again after every
        # read, and doubling keeps that to twice the bytes read rather than their square.
        piece = stream.read(min(max(len(head), 1 << 16), MAX_PROLOG_BYTES + 1 - len(head)))
        head += piece
        prolog = _find_prolog(head, final=not piece or len(head) > MAX_PROLOG_BYTES)
        if prolog is not None:
            return (prolog.name if prolog.root_end >= 0 else None), len(head)


# --------------------------------------------------------------------------------------------
# Opening: export.xml or export.zip
# --------------------------------------------------------------------------------------------


@contextmanager
def _open(path: Path, limits: ImportLimits) -> Iterator[tuple[BinaryIO, int]]:
    path = Path(path)
    name = shown(path.name)
    with ExitStack() as stack:
        # Only opening is translated here: errors raised while the caller reads are the caller's.
        try:
            if zipfile.is_zipfile(path):
                with open(path, "rb") as raw:
                    _check_directory(raw, name)
                archive = stack.enter_context(zipfile.ZipFile(path))
                member = _export_member(archive, name)
                _check_member(member, name, limits)
                stream = cast(BinaryIO, stack.enter_context(archive.open(member)))
                size = member.file_size
            else:
                stream = stack.enter_context(open(path, "rb"))
                size = os.fstat(stream.fileno()).st_size
                if size > limits.max_xml_bytes:
                    raise AppleHealthError(
                        f"{name} is {_size(size)}, over the import limit of {_size(limits.max_xml_bytes)}"
                    )
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
            # RuntimeError: an encrypted member; NotImplementedError: an unsupported compression.
            raise AppleHealthError(f"{name} is not a readable zip archive: {exc}") from None
        except (zlib.error, EOFError) as exc:
            raise AppleHealthError(f"{name} is damaged: {exc}") from None
        except OSError as exc:
            raise AppleHealthError(f"cannot read {shown(str(path))}: {exc.strerror or exc}") from None
        yield stream, size


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END_OF_DIRECTORY = struct.Struct("<4sQ2H2L4Q")


def _check_directory(raw: BinaryIO, name: str) -> None:
    """Refuse a zip whose central directory is too big before zipfile reads all of it into memory
    (with a ZipInfo per member): the size and member count are in the end record, which zipfile finds
    the same way, at the very end or in the last 64 KiB."""
    size = raw.seek(0, os.SEEK_END)
    tail_start = max(0, size - (_END_OF_DIRECTORY.size + 0xFFFF))
    raw.seek(tail_start)
    tail = raw.read()
    at = len(tail) - _END_OF_DIRECTORY.size
    if not (at >= 0 and tail.startswith(b"PK\x05\x06", at) and tail[-2:] == b"\0\0"):
        at = tail.rfind(b"PK\x05\x06")  # the end record is followed by a comment
    if at < 0 or len(tail) - at < _END_OF_DIRECTORY.size:
        raise AppleHealthError(f"{name} is not a readable zip archive: no end of central directory")
    fields = _END_OF_DIRECTORY.unpack_from(tail, at)
    members, directory = fields[4], fields[5]
    locator_at = tail_start + at - _ZIP64_LOCATOR.size
    if (members == 0xFFFF or directory == 0xFFFFFFFF) and locator_at >= 0:
        raw.seek(locator_at)
        locator = raw.read(_ZIP64_LOCATOR.size)
        if len(locator) == _ZIP64_LOCATOR.size and locator.startswith(b"PK\x06\x07"):
            raw.seek(_ZIP64_LOCATOR.unpack(locator)[2])
            record = raw.read(_ZIP64_END_OF_DIRECTORY.size)
            if len(record) == _ZIP64_END_OF_DIRECTORY.size and record.startswith(b"PK\x06\x06"):
                members, directory = _ZIP64_END_OF_DIRECTORY.unpack(record)[7:9]
    if members > MAX_ZIP_MEMBERS or directory > MAX_ZIP_DIRECTORY_BYTES:
        raise AppleHealthError(
            f"{name} lists {members:,} files in {_size(directory)} of directory, more than an Apple Health "
            f"export ever holds (at most {MAX_ZIP_MEMBERS:,} in {_size(MAX_ZIP_DIRECTORY_BYTES)})"
        )


def _check_member(member: zipfile.ZipInfo, name: str, limits: ImportLimits) -> None:
    """Refuse a zip bomb before inflating it: zipfile stops at the size a member claims (and then fails
    its CRC), so the claimed sizes bound what is read."""
    size, packed = member.file_size, member.compress_size
    if size > limits.max_xml_bytes:
        raise AppleHealthError(
            f"the export in {name} is {_size(size)} uncompressed, over the import limit of "
            f"{_size(limits.max_xml_bytes)}"
        )
    if size > RATIO_CHECKED_FROM and size > limits.max_zip_ratio * packed:
        ratio = f"{size / packed:,.0f}" if packed else "infinitely"
        raise AppleHealthError(
            f"the export in {name} would inflate {ratio} times ({_size(packed)} to {_size(size)}); "
            f"real exports compress 10–25 times and the limit is {limits.max_zip_ratio:g}: a zip bomb?"
        )


def _member_rank(info: zipfile.ZipInfo) -> tuple[bool, bool, bool, bool, int, str]:
    path = info.filename
    base = path.rsplit("/", 1)[-1].lower()
    return (
        path != "apple_health_export/export.xml",
        base != "export.xml",
        not path.startswith("apple_health_export/"),
        base == "export_cda.xml",
        path.count("/"),
        path,
    )


def _export_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    # The member is named after the phone's language (export.xml, 导出.xml, …), and export_cda.xml
    # next to it is a clinical document: the export is the .xml whose root is <HealthData>.
    candidates = sorted(
        (
            info
            for info in archive.infolist()
            if not info.is_dir()
            and info.filename.lower().endswith(".xml")
            and not info.filename.startswith("__MACOSX/")
        ),
        key=_member_rank,
    )
    sniffed = 0
    for info in candidates[:MAX_SNIFFED_MEMBERS]:
        with archive.open(info) as member:
            root, read = _root_name(cast(BinaryIO, member))
            if root == b"HealthData":
                return info
        sniffed += read
        if sniffed > MAX_SNIFFED_BYTES:
            break
    found = ", ".join(shown(n, 60) for n in archive.namelist()[:5]) or "nothing"
    raise AppleHealthError(
        f"{name} holds no Apple Health export: none of its .xml files has a <HealthData> root "
        f"(found: {found}); is it a Health app export?"
    )


def open_export(path: Path) -> AbstractContextManager[BinaryIO]:
    """``export.xml`` or ``export.zip`` (its ``HealthData`` document) as a binary stream.

    A zip member is decompressed as it is read, never extracted. Errors are :class:`AppleHealthError`.
    """

    @contextmanager
    def stream() -> Iterator[BinaryIO]:
        with _open(path, ImportLimits()) as (binary, _total):
            yield binary

    return stream()


# --------------------------------------------------------------------------------------------
# Scanning: expat checks the prolog, a byte search finds the records we use
# --------------------------------------------------------------------------------------------

# A used type name followed by its closing quote; whether it is a Record's type attribute is checked
# on the parsed tag, so other attributes that happen to hold the name are harmless.
_CANDIDATE = re.compile(
    rb"HK(?:QuantityTypeIdentifier(?:HeartRateVariabilitySDNN|RestingHeartRate)"
    rb"|CategoryTypeIdentifierSleepAnalysis)[\"']"
)
_USED_TYPE_BYTES = frozenset(t.encode() for t in USED_TYPES)
# No '<' anywhere in a tag (XML allows none, even in a value): a match can never run past the next
# tag, so trying one at every '<' of a hostile file costs time in proportion to its size.
_ATTRIBUTES = rb"((?:\s+[^\s=/><]+\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*)\s*"
_RECORD_OPEN = re.compile(rb"<Record[\s/>]")
_RECORD_TAG = re.compile(rb"<Record" + _ATTRIBUTES + rb"(/?)>")
# Only to say why a tag is broken (a '<' in a value), for the few reasons a summary keeps.
_LENIENT_RECORD_TAG = re.compile(rb"<Record((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>")
_TYPE_BEFORE = re.compile(rb"\stype\s*=\s*[\"']\Z")
_CONTENT_MARK = re.compile(rb"<(/?)(?:Record|MetadataEntry)(?=[\s/>])")
_RECORD_MARK = re.compile(rb"<(/?)Record(?=[\s/>])")
_CLOSE_RECORD = re.compile(rb"</Record\s*>")
_METADATA_TAG = re.compile(rb"<MetadataEntry" + _ATTRIBUTES + rb"/?>")
_ATTRIBUTE = re.compile(rb"([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_NOT_IN_TAG = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f<]")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NOT_XML_CHAR = re.compile("[\ud800-\udfff\ufffe\uffff]")
_OPENER = re.compile(rb"<[!?]")
_OPAQUE = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
# Steps over text, tags and whole comments, CDATA sections and processing instructions, and stops at
# one whose end is not in what it is given. Possessive, so it never backtracks, and in C: a body of
# nothing but "<?a?>" is stepped over at tens of MB/s rather than one Python step per item.
_OUTSIDE = re.compile(
    rb"(?:[^<]++|<+(?![!?])|<!(?!--|\[CDATA\[)|<!--.*?-->|<\?.*?\?>|<!\[CDATA\[.*?\]\]>)*+", re.DOTALL
)
_REFERENCE = re.compile(r"&([^;&\s]*)(;?)")
_NUMERIC = re.compile(r"#(?:x([0-9A-Fa-f]+)|([0-9]+))")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_SPACES = str.maketrans("\t\n\r", "   ")
_ROOT_END = re.compile(rb"</HealthData\s*>")
_USER_ENTERED = (b"1", b"true")


class _Broken(ValueError):
    """A used record that is not well-formed XML; the message says why."""


def _xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code > 0xFFFF


def _reference(match: re.Match[str]) -> str:
    ref, semicolon = match.groups()
    if not semicolon:
        raise _Broken("an '&' that is not escaped as &amp;")
    named = _NAMED.get(ref)
    if named is not None:
        return named
    numeric = _NUMERIC.fullmatch(ref)
    if numeric is None:
        # Entities declared in the DTD are never expanded: the DTD is not read at all.
        raise _Broken(f"undefined entity &{shown(ref, 40)};")
    code = int(numeric.group(1), 16) if numeric.group(1) else int(numeric.group(2))
    if code > 0x10FFFF or not _xml_char(code):
        raise _Broken(f"character reference &{shown(ref, 40)}; is not allowed in XML")
    return chr(code)


def _attribute_value(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Broken("bytes that are not UTF-8") from None
    if _NOT_XML_CHAR.search(text):
        raise _Broken("a character that is not allowed in XML")
    if "&" in text or "\n" in text or "\t" in text or "\r" in text:
        # XML attribute-value normalisation: literal whitespace becomes spaces, references expand after.
        text = _REFERENCE.sub(_reference, text.translate(_SPACES))
    return text


def _attributes(raw: bytes) -> dict[bytes, bytes]:
    """The attributes of a matched tag; raises :class:`_Broken` for what expat would refuse in them."""
    bad = _NOT_IN_TAG.search(raw)
    if bad is not None:
        found = bad.group()
        raise _Broken(
            "a '<' inside an attribute value" if found == b"<" else f"control character U+{found[0]:04X}"
        )
    pairs = [
        (m.group(1), m.group(2) if m.group(2) is not None else m.group(3)) for m in _ATTRIBUTE.finditer(raw)
    ]
    attributes = dict(pairs)
    if len(attributes) != len(pairs):
        raise _Broken("an attribute written twice")
    return attributes


class _Invalid:
    """A used record that cannot be read; counted as skipped by import_days."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Open:
    """A used ``Record`` whose children (up to ``</Record>``) are not all read yet."""

    __slots__ = ("entries", "problem", "record", "scan_from", "user_entered", "where")

    def __init__(self, record: AppleRecord, where: str, scan_from: int) -> None:
        self.record = record
        self.where = where
        self.scan_from = scan_from  # absolute offset the children are read up to
        self.user_entered = record.user_entered
        self.problem: str | None = None
        self.entries = 0  # MetadataEntry children read

    def result(self) -> AppleRecord | _Invalid:
        if self.problem is not None:
            return _Invalid(f"{self.where}: {self.problem}")
        return replace(self.record, user_entered=True) if self.user_entered else self.record


class _Scanner:
    """Finds the used ``Record`` elements in the chunks of an export.

    expat reads the prolog and the root start tag only (with the internal DTD subset blanked, so
    nothing declared there is ever expanded or fetched), which is what makes a file an export. The
    body is not run through a parser: a stray control character or a broken tag in a record we do
    not use must not cost the athlete the whole file, and the used records are checked one by one.

    ``buf`` = the carried tail of the previous chunk + the new chunk; only ``buf[:cut]`` is searched,
    where ``cut`` is the last ``<``, so every tag that starts in the searched part is complete there
    (``<`` cannot occur inside a well-formed tag).
    """

    def __init__(self, zone: ZoneInfo | timezone) -> None:
        self._zone = zone
        self._body_from = -1  # absolute offset just past the root start tag; nothing before is searched
        self._empty_root = False
        self._base = 0  # absolute offset of carry[0]
        self._line = 1  # line number at _base
        self._mark = 0  # an offset in the current buf whose line number is known: _mark_line
        self._mark_line = 1
        self._carry = b""
        self._tail = b""  # the file's last bytes, to check that it ends with </HealthData>
        self._fed = 0
        # Comments, CDATA sections and processing instructions, followed as far as asked (absolute
        # offsets): outside all of them at _known; the last one passed spans _last_opaque.
        self._known = 0
        self._last_opaque = (0, 0)
        self._pending_close: bytes | None = None  # the terminator of one whose end is not seen yet
        self._pending_start = 0
        self._pending_from = 0
        self._pending_line = 0
        self._pending_at = -1  # where in the current buf the never-ending comment opened
        self._described = 0  # broken Record tags whose problem was looked into
        self._open: _Open | None = None

    # The prolog ----------------------------------------------------------------------------------

    def _check_prolog(self, buf: bytes, prolog: _Prolog) -> None:
        complete = prolog.root_end >= 0
        if not complete and buf.startswith(b"<!DOCTYPE", prolog.root_start):
            # Never handed to expat: an internal subset is not to be read, even to describe an error.
            raise AppleHealthError("not an Apple Health export: its <!DOCTYPE> declaration does not end")
        root: list[str] = []
        parser = expat.ParserCreate()
        parser.XmlDeclHandler = self._declaration
        parser.StartElementHandler = lambda name, attributes: root.append(name)
        # Up to the root start tag; or up to a little past the junk, where expat stops and says why.
        head = buf[: prolog.root_end] if complete else buf[: prolog.root_start + MAX_TAG_BYTES]
        try:
            parser.Parse(_blank_doctype(head, prolog), not complete)
        except expat.ExpatError as exc:
            reason = expat.ErrorString(exc.code)
            where = f"line {exc.lineno}, column {exc.offset + 1}"
            raise AppleHealthError(f"not an Apple Health export: not XML ({reason} at {where})") from None
        finally:
            parser.XmlDeclHandler = None
            parser.StartElementHandler = None
        if not complete or not root:
            raise AppleHealthError("not an Apple Health export: no root element")
        if root[0] != "HealthData":
            raise AppleHealthError(
                f"not an Apple Health export: the root element is <{shown(root[0])}>, not <HealthData>"
            )

    def _declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
            raise AppleHealthError(
                f"export.xml declares encoding {shown(encoding)}; Apple Health exports are UTF-8"
            )

    # ------------------------------------------------------------------------------------------

    def feed(self, chunk: bytes, *, final: bool = False) -> list[AppleRecord | _Invalid]:
        if self._fed == 0 and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise AppleHealthError("export.xml is UTF-16; Apple Health exports are UTF-8")
        self._fed += len(chunk)
        self._tail = (self._tail + chunk)[-TAIL_BYTES:] if len(chunk) < TAIL_BYTES else chunk[-TAIL_BYTES:]
        buf = self._carry + chunk if self._carry else chunk
        base = self._base
        if self._body_from < 0:
            # The prolog is searched from its start after every chunk, and carried whole until the
            # root start tag: past MAX_PROLOG_BYTES it is judged as it stands (and refused).
            prolog = _find_prolog(buf, final=final or len(buf) >= MAX_PROLOG_BYTES)
            if prolog is None:
                self._carry = buf
                return []
            self._check_prolog(buf, prolog)
            self._body_from = self._known = base + prolog.root_end
            self._empty_root = prolog.empty
        lo = max(0, self._body_from - base)
        cut = len(buf) if final else buf.rfind(b"<")
        if cut < lo or len(buf) - cut > MAX_TAG_BYTES:
            # No tag starts in the body part, or one runs on for a megabyte (no tag is that long): search
            # nearly all of it so that junk never piles up in the carry; the few bytes kept may hold
            # the start of a comment's terminator.
            cut = max(lo, len(buf) - 16)
        found = self._search(buf, base, lo, cut)
        self._opaque_end(buf, base, cut)  # the next chunk starts at cut, knowing whether it is inside one
        if self._pending_at >= 0:
            # Counted after the search, which asks for line numbers in increasing order: counting
            # back from the last one asked keeps a chunk's newlines counted about once.
            self._pending_line = self._line_at(buf, self._pending_at)
            self._pending_at = -1
        self._line = self._line_at(buf, cut)
        self._mark, self._mark_line = 0, self._line
        self._carry = buf[cut:]
        self._base = base + cut
        return found

    def close(self) -> list[AppleRecord | _Invalid]:
        if self._fed == 0:
            raise AppleHealthError("the file is empty; expected an Apple Health export.xml")
        found = self.feed(b"", final=True)
        if self._pending_close is not None:
            raise AppleHealthError(
                f"export.xml is damaged: the comment or section opened at line {self._pending_line} "
                "never ends, so what follows cannot be told from data"
            )
        if self._open is not None or not (self._empty_root or _ends_document(self._tail)):
            raise AppleHealthError(
                "the export ends early (it does not end with </HealthData>): an incomplete download or "
                "copy? Export it again from the Health app"
            )
        return found

    def release(self) -> None:
        self._carry = b""
        self._tail = b""
        self._open = None

    # The body ------------------------------------------------------------------------------------

    def _line_at(self, buf: bytes, pos: int) -> int:
        # Asked in increasing order nearly always, so a chunk's newlines are counted about once.
        if pos >= self._mark:
            self._mark_line += buf.count(b"\n", self._mark, pos)
            self._mark = pos
            return self._mark_line
        return self._mark_line - buf.count(b"\n", pos, self._mark)

    def _opaque_end(self, buf: bytes, base: int, at: int) -> int:
        """-1 when ``buf[at]`` is outside every comment, CDATA section and processing instruction;
        else where the one it is in ends (``len(buf)`` or more when that end is not seen yet).

        Asked at increasing positions: the state is carried forward from the last one asked, so a
        chunk is stepped over once however many positions are asked about.
        """
        if self._pending_close is not None:
            end = buf.find(self._pending_close, max(self._pending_from - base, 0))
            if end < 0:
                self._pending_from = base + max(len(buf) - len(self._pending_close) + 1, 0)
                return len(buf)
            self._known = base + end + len(self._pending_close)
            self._last_opaque = (self._pending_start, self._known)
            self._pending_close = None
        pos = self._known - base
        if at < pos:
            start, end = self._last_opaque
            return end - base if start <= base + at < end else -1
        while True:
            # Real exports have no comment in the body: a search for an opener, in C at memory speed,
            # usually says so. From an opener on, the pattern steps over everything up to ``at``.
            opener_at = _OPENER.search(buf, pos, at)
            step = None if opener_at is None else _OUTSIDE.match(buf, opener_at.start(), at)
            stop = at if step is None else step.end()
            found = next(((o, c) for o, c in _OPAQUE if buf.startswith(o, stop)), None) if stop < at else None
            if found is None:
                self._known = base + at
                return -1
            opener, closer = found
            end = buf.find(closer, stop + len(opener))
            if end < 0:
                self._pending_close, self._pending_start = closer, base + stop
                self._pending_from, self._pending_at = base + stop + len(opener), stop
                return len(buf)
            pos = end + len(closer)
            self._known = base + pos
            self._last_opaque = (base + stop, base + pos)
            if at < pos:
                return pos

    def _search(self, buf: bytes, base: int, lo: int, cut: int) -> list[AppleRecord | _Invalid]:
        out: list[AppleRecord | _Invalid] = []
        pos = lo
        if self._open is not None:
            pos = self._children(buf, base, max(lo, self._open.scan_from - base), cut, out)
            if pos < 0:
                return out
        # Every step moves ``pos`` forward and every search starts at it, so a chunk costs time in
        # proportion to its length whatever it holds (a run of type names with no '<' between them
        # made the search for each one's tag start go back to the start of the chunk: quadratic).
        floor = pos  # a tag starting before this is read already, or is not ours to read
        last_lt, searched_to = -1, pos  # the last '<' in buf[floor:searched_to]
        while (match := _CANDIDATE.search(buf, pos, cut)) is not None:
            at = match.start()
            opaque_end = self._opaque_end(buf, base, at)
            if opaque_end >= len(buf):
                break
            if opaque_end >= 0:
                pos = opaque_end
                continue
            lt = buf.rfind(b"<", searched_to, at)
            if lt >= 0:
                last_lt = lt
            searched_to = at
            tag_start = last_lt
            tag = None
            if tag_start >= floor and _RECORD_OPEN.match(buf, tag_start):
                tag = _RECORD_TAG.match(buf, tag_start)
                # Report it only when the name found is this Record's type, not another attribute's.
                if tag is None and _TYPE_BEFORE.search(buf, max(tag_start, at - 64), at):
                    name = _short(match.group()[:-1].decode())
                    line = self._line_at(buf, tag_start)
                    out.append(_Invalid(f"{name} at line {line}: {self._tag_problem(buf, tag_start, cut)}"))
                floor = tag_start + 1
            if tag is None:
                # Every other type name up to the next '<' is in this same tag.
                pos = buf.find(b"<", at, cut)
                if pos < 0:
                    break
                continue
            pos = floor = tag.end()
            if tag.end() - tag_start > MAX_TAG_BYTES:
                # Read only when a chunk happens to hold all of it: refused always, not now and then.
                if _TYPE_BEFORE.search(buf, max(tag_start, at - 64), at):
                    name = _short(match.group()[:-1].decode())
                    line = self._line_at(buf, tag_start)
                    out.append(
                        _Invalid(
                            f"{name} at line {line}: the Record tag is longer than {_size(MAX_TAG_BYTES)}"
                        )
                    )
                continue
            item = self._record(buf, tag, tag_start)
            if item is None:
                continue
            if isinstance(item, _Invalid) or tag.group(2) == b"/":
                out.append(item)
                continue
            line = self._line_at(buf, tag_start)
            self._open = _Open(item, f"{_short(item.type)} at line {line}", base + tag.end())
            pos = floor = self._children(buf, base, tag.end(), cut, out)
            if pos < 0:
                break  # the rest of what is searched is this record's children
        return out

    def _children(
        self,
        buf: bytes,
        base: int,
        start: int,
        cut: int,
        out: list[AppleRecord | _Invalid],
    ) -> int:
        """Read the open record's children in ``buf[start:cut]``: where it ends, or -1 if not yet."""
        record = self._open
        assert record is not None
        end, after = cut, -1
        pos = start
        while (
            mark := (_CONTENT_MARK if record.entries <= MAX_METADATA else _RECORD_MARK).search(buf, pos, cut)
        ) is not None:
            at = mark.start()
            opaque_end = self._opaque_end(buf, base, at)
            if opaque_end >= len(buf):
                break
            if opaque_end >= 0:
                pos = opaque_end
                continue
            pos = mark.end()
            if mark.group(1):  # </Record
                close = _CLOSE_RECORD.match(buf, at)
                if close is None:
                    record.problem = record.problem or "its </Record> tag is not well-formed XML"
                end, after = at, at if close is None else close.end()
                break
            if buf.startswith(b"<Record", at):
                record.problem = record.problem or "it does not end before the next Record starts"
                end = after = at
                break
            record.entries += 1
            if record.entries > MAX_METADATA:
                record.problem = record.problem or f"more than {MAX_METADATA} MetadataEntry children"
                continue
            self._metadata(record, buf, at)
        control = _CONTROL.search(buf, start, end)
        if control is not None:
            record.problem = record.problem or f"control character U+{control.group()[0]:04X}"
        if after < 0:
            record.scan_from = base + cut
            return -1
        self._open = None
        out.append(record.result())
        return after

    def _tag_problem(self, buf: bytes, start: int, end: int) -> str:
        """Why the ``Record`` tag at ``start`` does not match: told for the first MAX_ERRORS only, which
        are all a summary keeps, since finding out reads on past the next '<' (up to MAX_TAG_BYTES)."""
        self._described += 1
        if self._described <= MAX_ERRORS:
            if len(buf) - start > MAX_TAG_BYTES and buf.find(b">", start, start + MAX_TAG_BYTES) < 0:
                return f"the Record tag is longer than {_size(MAX_TAG_BYTES)}"
            lenient = _LENIENT_RECORD_TAG.match(buf, start, min(end, start + MAX_TAG_BYTES))
            if lenient is not None:
                try:
                    _attributes(lenient.group(1))
                except _Broken as exc:
                    return str(exc)
        return "the Record tag is not well-formed XML"

    def _metadata(self, record: _Open, buf: bytes, at: int) -> None:
        tag = _METADATA_TAG.match(buf, at)
        try:
            if tag is None:
                raise _Broken("a MetadataEntry that is not well-formed XML")
            attributes = _attributes(tag.group(1))
            key = attributes.get(b"key")
            value = attributes.get(b"value")
            if key is not None and _attribute_value(key) == "HKWasUserEntered" and value is not None:
                record.user_entered = _attribute_value(value).strip().lower().encode() in _USER_ENTERED
        except _Broken as exc:
            record.problem = record.problem or str(exc)

    def _record(self, buf: bytes, tag: re.Match[bytes], tag_start: int) -> AppleRecord | _Invalid | None:
        """The record of a matched ``Record`` start tag; None when its type is not one we use."""
        raw = tag.group(1)
        try:
            attributes = _attributes(raw)
        except _Broken as exc:
            attributes, problem = {}, str(exc)
        else:
            problem = ""
        type_raw = attributes.get(b"type")
        if type_raw is None:
            if not problem:
                return None
            # The attributes cannot be split reliably; the candidate that led here names the type.
            found = _CANDIDATE.search(raw)
            if found is None or not _TYPE_BEFORE.search(raw, max(0, found.start() - 64), found.start()):
                return None
            type_raw = found.group()[:-1]
        if type_raw not in _USED_TYPE_BYTES:
            return None
        type_ = type_raw.decode()
        line = self._line_at(buf, tag_start)
        where = f"{_short(type_)} at line {line}"
        if problem:
            return _Invalid(f"{where}: {problem}")
        try:
            text = {key: _attribute_value(value) for key, value in attributes.items()}
        except _Broken as exc:
            return _Invalid(f"{where}: {exc}")
        # Cut to what the ingest API stores: a longer name would refuse the whole import there.
        source = (text.get(b"sourceName") or "unknown source")[:MAX_SOURCE_CHARS]
        start_text, end_text = text.get(b"startDate"), text.get(b"endDate")
        try:
            start = _parse_when(start_text, self._zone)
            end = _parse_when(end_text, self._zone)
        except ValueError:
            dates = f"{_quoted(start_text)}/{_quoted(end_text)}"
            return _Invalid(f"{where} from {shown(source)}: unreadable date {dates}")
        # Exports from before iOS 9 wrote metadata as attributes of the Record itself.
        entered = text.get(b"HKWasUserEntered", "").strip().lower().encode() in _USER_ENTERED
        return AppleRecord(type_, source, start, end, text.get(b"value"), text.get(b"unit"), entered)


def _ends_document(tail: bytes) -> bool:
    """Whether the file's last bytes are ``</HealthData>`` and then only white space, comments and
    processing instructions. Read by hand, not by one pattern: ``(\\s+|…)*\\Z`` backtracks
    exponentially over spaces followed by anything else (40 spaces took minutes)."""
    at = len(tail)
    for _ in range(8):  # a comment after the root may itself hold "</HealthData>"
        at = tail.rfind(b"</HealthData", 0, at)
        if at < 0:
            return False
        close = _ROOT_END.match(tail, at)
        if close is not None and _only_misc(tail, close.end()):
            return True
    return False


def _only_misc(buf: bytes, pos: int) -> bool:
    while pos < len(buf):
        if buf[pos] in b" \t\r\n":
            pos = _skip_space(buf, pos)
        elif buf.startswith(b"<!--", pos):
            pos = _after(buf, b"-->", pos + 4)
        elif buf.startswith(b"<?", pos):
            pos = _after(buf, b"?>", pos + 2)
        else:
            return False
        if pos < 0:
            return False
    return True


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
    stream: BinaryIO,
    zone: ZoneInfo | timezone,
    on_read: Callable[[int], None] | None,
    max_bytes: int | None = None,
) -> Iterator[AppleRecord | _Invalid]:
    scanner = _Scanner(zone)
    read = 0
    try:
        while chunk := _read(stream):
            read += len(chunk)
            # Checked on what is read, not only on the size the file or zip claimed up front: a file
            # may grow while it is read.
            if max_bytes is not None and read > max_bytes:
                raise AppleHealthError(f"the export is over the import limit of {_size(max_bytes)}")
            yield from scanner.feed(chunk)
            if on_read is not None:
                on_read(len(chunk))
        yield from scanner.close()
    finally:
        scanner.release()


def iter_records(stream: BinaryIO, *, default_tz: str = "UTC") -> Iterator[AppleRecord]:
    """The SDNN, resting-HR and sleep ``Record`` elements of an export, in document order, streaming.

    Dates keep their own UTC offset; a date written without one is read in ``default_tz``. Records
    that are not well-formed or whose dates cannot be read are left out (:func:`import_days` counts
    them). Raises :class:`AppleHealthError` for a file that is not a ``HealthData`` document or that
    ends before ``</HealthData>``, when the problem is reached: records yielded before it come from a
    file that turned out to be unusable.
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


_EPOCH_DAY = date(1970, 1, 1)


def _epoch_of(day: date) -> int:
    return (day - _EPOCH_DAY).days * 86400


def _local_day(epoch: int, offset: int) -> tuple[date, int]:
    days, seconds = divmod(epoch + offset, 86400)
    return _EPOCH_DAY + timedelta(days=days), seconds


Interval = tuple[int, int]
_Block = npt.NDArray[np.intp]  # indexes into one source's _SleepColumns, by start


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


@dataclass(frozen=True, slots=True)
class _Night:
    source: str
    wake_date: date
    wake: int  # epoch of the end of the last asleep interval
    wake_offset: int
    asleep: int  # seconds
    in_bed_start: int  # the window the night is grouped, checked and given its SDNN by
    in_bed_end: int
    asleep_start: int  # epoch of the start of the first asleep interval
    wakes: int
    staged: bool
    # From InBed records (widened to cover the asleep time): when bedtime was and when the athlete
    # got up. None when no InBed record says so.
    bed: Interval | None


# A source's block as a night in the making: in-bed window, source, its records, what they give.
_Candidate = tuple[int, int, str, _Block, _Night]


class _SleepColumns:
    """One source's sleep records as compact columns (tens of thousands of records for years of data)."""

    __slots__ = ("end", "offset", "stage", "start")

    def __init__(self) -> None:
        self.start = array.array("q")
        self.end = array.array("q")
        self.offset = array.array("i")  # UTC offset of the end date
        self.stage = array.array("b")


class _Days:
    """Counts and skip reasons of one import; the records go to one :class:`_Signals` per vendor."""

    def __init__(self, max_records: int = ImportLimits.max_records) -> None:
        self.records = 0
        self.skipped = 0
        self.errors: list[str] = []
        self._vendors: dict[str, _Signals] = {}
        self._max_records = max_records

    def skip(self, reason: str) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(shown(reason, MAX_MESSAGE))

    def add(self, item: AppleRecord | _Invalid) -> None:
        self.records += 1
        if self.records > self._max_records:
            # Refused rather than cut: a night or day half read would be stored as if whole.
            raise AppleHealthError(
                f"the export holds more than {self._max_records:,} SDNN, resting-HR and sleep records, "
                "the import limit"
            )
        if isinstance(item, _Invalid):
            self.skip(item.reason)
            return
        vendor = MANUAL if item.user_entered else VENDOR
        signals = self._vendors.get(vendor)
        if signals is None:
            signals = self._vendors[vendor] = _Signals(vendor, self.skip)
        signals.add(item)

    def payloads(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        hrv: list[dict[str, Any]] = []
        sleep: list[dict[str, Any]] = []
        for vendor in sorted(self._vendors):
            vendor_hrv, vendor_sleep = self._vendors[vendor].payloads()
            hrv += vendor_hrv
            sleep += vendor_sleep
        # By date; a stable sort keeps apple before manual within one.
        hrv.sort(key=lambda p: str(p["date"]))
        sleep.sort(key=lambda p: str(p["date"]))
        return hrv, sleep


class _Signals:
    """The SDNN, resting-HR and sleep records of one vendor (measured or typed in), and their days."""

    def __init__(self, vendor: str, skip: Callable[[str], None]) -> None:
        self.vendor = vendor
        self.skip = skip
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
        self._tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        # Records this far outside the dates stored can touch no stored day (a night is at most a
        # day long, UTC offsets at most one), so they are not kept: kept, they would cost memory by the
        # day, and a file may hold a record on every day of ten thousand years.
        self._first_epoch = _epoch_of(EARLIEST_DATE - timedelta(days=3))
        self._last_epoch = _epoch_of(self._tomorrow + timedelta(days=4))

    def _where(self, item: AppleRecord) -> str:
        where = f"{item.start.isoformat(sep=' ')} from {shown(item.source_name)}"
        return where + " (entered by hand)" if self.vendor == MANUAL else where

    def add(self, item: AppleRecord) -> None:
        start, start_offset = _epoch(item.start)
        end, end_offset = _epoch(item.end)
        if end < start:
            self.skip(f"{_short(item.type)} at {self._where(item)}: ends before it starts")
            return
        if end < self._first_epoch or start > self._last_epoch:
            dates = f"{EARLIEST_DATE}..{self._tomorrow}"
            self.skip(f"{_short(item.type)} at {self._where(item)}: outside {dates} (device clock?)")
            return
        if item.source_name not in self._source_ids:
            # Sources are kept by name, once each; a file naming a new one on every record must not
            # grow memory by a name per record.
            if len(self._sources) >= MAX_SOURCES:
                self.skip(f"{_short(item.type)} at {self._where(item)}: more than {MAX_SOURCES} sources")
                return
            self._source_ids[item.source_name] = len(self._sources)
            self._sources.append(item.source_name)
        if item.type == SLEEP_TYPE:
            stage = _STAGES.get(item.value or "")
            if stage is None:
                self.skip(f"sleep at {self._where(item)}: unknown value {_quoted(item.value)}")
                return
            columns = self._sleep.get(item.source_name)
            if columns is None:
                columns = self._sleep[item.source_name] = _SleepColumns()
            columns.start.append(start)
            columns.end.append(end)
            columns.offset.append(end_offset)
            columns.stage.append(stage)
            return
        value = self._number(item)
        if value is None:
            return
        if item.type == SDNN_TYPE:
            source = self._source_ids[item.source_name]
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

    def _number(self, item: AppleRecord) -> float | None:
        is_sdnn = item.type == SDNN_TYPE
        name, unit, (low, high) = (
            ("SDNN", "ms", SDNN_RANGE) if is_sdnn else ("resting HR", "count/min", RESTING_HR_RANGE)
        )
        if item.unit not in (None, unit):
            self.skip(f"{name} at {self._where(item)}: unit {_quoted(item.unit)}, expected {unit}")
            return None
        try:
            value = float(item.value or "")
        except ValueError:
            self.skip(f"{name} at {self._where(item)}: value {_quoted(item.value)} is not a number")
            return None
        if not low <= value <= high:
            self.skip(f"{name} {value:g} {unit} at {self._where(item)} is outside {low:g}–{high:g}")
            return None
        return value

    # ------------------------------------------------------------------------------------------

    def _nights(self) -> dict[date, _Night]:
        # Blocks of every source, naps dropped; overlapping in-bed windows (any source) form one
        # sleep episode, so a source's fragment (a Watch that ran flat at 23:40) is never dated on
        # its own but competes inside the episode it belongs to.
        # Streamed: each source's blocks come in order of their in-bed windows, merged across sources,
        # and only the episode at hand is held, so memory does not grow with the number of blocks
        # (one per record, in a hostile file of isolated records).
        merged = heapq.merge(
            *(self._source_blocks(source, columns) for source, columns in self._sleep.items()),
            key=lambda b: (b[0], b[1], b[2]),
        )
        chosen: dict[date, _Night] = {}
        episode: list[_Candidate] = []
        episode_start = episode_end = 0
        overlong = False

        def settle() -> None:
            if overlong:
                began = datetime.fromtimestamp(episode_start, UTC).strftime("%Y-%m-%d %H:%M UTC")
                hours = (episode_end - episode_start) / 3600
                self.skip(f"sleep from {began}: {hours:.0f} h of overlapping records is not a night")
                return
            night = self._choose(episode)
            # Two separate episodes waking on one date (split sleep): the longer is the main sleep.
            if night is not None and (
                night.wake_date not in chosen or night.asleep > chosen[night.wake_date].asleep
            ):
                chosen[night.wake_date] = night

        for block_info in merged:
            if (episode or overlong) and block_info[0] <= episode_end:
                episode_end = max(episode_end, block_info[1])
                # An episode is never more than MAX_BLOCK_SPAN long in real data; held beyond that it
                # would grow with a chain of overlapping records as long as the file.
                if episode_end - episode_start > MAX_BLOCK_SPAN:
                    overlong, episode = True, []
                elif not overlong:
                    episode.append(block_info)
                continue
            if episode or overlong:
                settle()
            episode, overlong = [block_info], False
            episode_start, episode_end = block_info[0], block_info[1]
        if episode or overlong:
            settle()
        if not chosen:
            return chosen
        in_bed = self._in_bed_by_source()
        return {day: self._with_bedtime(night, in_bed) for day, night in chosen.items()}

    def _in_bed_by_source(self) -> dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Each source's InBed records merged (overlapping or touching ones as one): starts and ends,
        sorted, 16 bytes an interval."""
        found: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        for source, columns in self._sleep.items():
            in_bed = np.frombuffer(columns.stage, dtype=np.int8) == _IN_BED
            if not in_bed.any():
                continue
            start = np.frombuffer(columns.start, dtype=np.int64)[in_bed]
            end = np.frombuffer(columns.end, dtype=np.int64)[in_bed]
            order = np.lexsort((end, start))
            start, reach = start[order], np.maximum.accumulate(end[order])
            first = np.concatenate(([True], start[1:] > reach[:-1]))
            last = np.concatenate((first[1:], [True]))
            found[source] = (start[first], reach[last])
        return found

    def _with_bedtime(
        self, night: _Night, in_bed: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]
    ) -> _Night:
        """The night with a bedtime from another source's InBed records when it has none of its own.

        What is asked is only that efficiency and latency come from an InBed record saying when
        bedtime was, never from the asleep span. Which source says it does not matter for that: an
        Apple Watch writes no InBed at all, and the iPhone's sleep schedule or a sleep app writes it
        for the same night, so taking only the winner's own gave a Watch user no efficiency ever.
        The winner's own InBed still comes first (its asleep time and its bedtime then come from one
        device), then the source whose InBed overlaps most of the winner's sleep, then, between equal
        ones, the shortest window, which adds the least time in bed the sleep itself does not show.
        Sources of this vendor only: a night typed in by hand never takes a device's bedtime nor the
        reverse (a 10-hour hand-entered night without InBed stays without efficiency). A window over
        MAX_SLEEP_MIN (an InBed left running for days) says nothing about this night and is not used.
        """
        if night.bed is not None:
            return night
        first, wake = night.asleep_start, night.wake
        best: tuple[tuple[int, int, str], Interval] | None = None
        for source, (starts, ends) in in_bed.items():
            if source == night.source:
                continue
            lo = int(np.searchsorted(ends, first, "right"))  # the first that ends after sleep starts
            hi = int(np.searchsorted(starts, wake, "left"))  # the first that starts at or after waking
            if lo >= hi:
                continue
            covered = int((np.minimum(ends[lo:hi], wake) - np.maximum(starts[lo:hi], first)).sum())
            bed = (min(int(starts[lo]), first), max(int(ends[hi - 1]), wake))
            key = (covered, first - bed[0] - (bed[1] - wake), source)
            if best is None or key > best[0]:
                best = (key, bed)
        if best is None or best[1][1] - best[1][0] > MAX_SLEEP_MIN * 60:
            return night
        return replace(night, bed=best[1])

    def _source_blocks(self, source: str, columns: _SleepColumns) -> Iterator[_Candidate]:
        """One source's blocks that are nights or could be (naps left out), by in-bed window: a block
        starts after the previous one's last record ends, and its in-bed window lies within it."""
        for block, first, last in _blocks(columns):
            if last - first > MAX_BLOCK_SPAN:
                # Never a night (asleep or in bed over MAX_SLEEP_MIN), and read whole it would cost a
                # tuple per record: a file of one-minute records without a break is one block.
                began = datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%d %H:%M UTC")
                self.skip(
                    f"sleep from {shown(source)} from {began}: {(last - first) / 3600:.0f} h without "
                    "a break of an hour is not a night"
                )
                continue
            night = _night(source, columns, block.tolist())
            if night is not None and not _is_nap(night):
                yield night.in_bed_start, night.in_bed_end, source, block, night

    def _choose(self, episode: list[_Candidate]) -> _Night | None:
        per_source: dict[str, list[tuple[_Block, _Night]]] = {}
        for _, _, source, block, night in episode:
            per_source.setdefault(source, []).append((block, night))
        nights: list[_Night] = []
        for source, parts in per_source.items():
            if len(parts) == 1:
                night = parts[0][1]
            else:  # one source's blocks bridged by another source: one night of that source
                merged = _night(source, self._sleep[source], np.concatenate([b for b, _ in parts]).tolist())
                assert merged is not None
                night = merged
            asleep_min = night.asleep / 60
            in_bed_min = (night.in_bed_end - night.in_bed_start) / 60
            if asleep_min > MAX_SLEEP_MIN or in_bed_min > MAX_SLEEP_MIN:
                longest = max(asleep_min, in_bed_min)
                limit = f"{MAX_SLEEP_MIN:.0f}"
                self.skip(
                    f"sleep ending {night.wake_date} from {shown(source)}: {longest:.0f} min is over {limit}"
                )
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
        # In numpy, as in _blocks: index lists of Python ints cost 30-odd bytes a sample where these
        # cost 8, and a hostile file may hold a million samples.
        start = np.array(self._hrv_start, dtype=np.int64)
        order = np.argsort(start, kind="stable")
        starts = start[order]
        result: dict[date, tuple[float, str, int, int]] = {}
        for day, night in nights.items():
            lo = int(np.searchsorted(starts, night.in_bed_start, "left"))
            hi = int(np.searchsorted(starts, night.in_bed_end, "right"))
            picked = self._one_source(order[lo:hi].tolist(), prefer=night.source)
            if picked:
                values = [self._hrv_value[i] for i in picked]
                result[day] = (
                    statistics.median(values),
                    self._sources[self._hrv_source[picked[0]]],
                    night.wake,
                    night.wake_offset,
                )
        del starts  # each temporary goes as soon as it is used: a few of them at once is the peak
        local = np.array(self._hrv_offset, dtype=np.int64)
        local += start
        del start
        day_number, seconds = np.divmod(local, 86400)
        del local
        night_days = np.array([(day - _EPOCH_DAY).days for day in nights], dtype=np.int64)
        keep = seconds < FALLBACK_HRV_UNTIL
        del seconds
        keep &= ~np.isin(day_number, night_days)
        morning = order[keep[order]]
        del keep, order
        morning = morning[np.argsort(day_number[morning], kind="stable")]  # by day, then by start
        bounds = np.flatnonzero(np.diff(day_number[morning])) + 1
        firsts, ends = np.concatenate(([0], bounds)), np.concatenate((bounds, [len(morning)]))
        for lo, hi in zip(firsts, ends, strict=True):
            if lo == hi:
                continue
            day = _EPOCH_DAY + timedelta(days=int(day_number[morning[lo]]))
            picked = self._one_source(morning[lo:hi].tolist(), prefer=None)
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
                sleep_out.append(_sleep_payload(day, night, self.vendor))
            hrv = sdnn.get(day)
            rhr = self._rhr.get(day)
            if hrv is None and rhr is None:
                continue
            payload: dict[str, Any] = {"date": day.isoformat()}
            if hrv is not None:
                payload["sdnn"] = round(hrv[0], 2)
            if rhr is not None:
                payload["restingHr"] = rhr[0]
            payload["vendor"] = self.vendor
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


def _blocks(columns: _SleepColumns) -> Iterator[tuple[_Block, int, int]]:
    """A source's records in blocks (a gap over BLOCK_GAP ends one), each with where it starts and ends.

    Sorted in numpy: 8 bytes an index where Python's sort by (start, end) tuples took over 150 bytes
    a record, which for a hostile file of a million records was the whole of the import's memory.
    """
    # Views, not copies: the columns are complete by now and are never appended to again.
    start = np.frombuffer(columns.start, dtype=np.int64)
    end = np.frombuffer(columns.end, dtype=np.int64)
    order = np.lexsort((end, start))
    if not len(order):
        return
    # Sorted by start, a block's end so far is the running maximum of ends, and at a break every
    # earlier record has ended, so the running maximum over all records is the block's own.
    reach = end[order]
    np.maximum.accumulate(reach, out=reach)
    breaks = np.flatnonzero(start[order[1:]] > reach[:-1] + BLOCK_GAP) + 1
    # Only the order and the breaks outlive this (16 bytes a record at most): the blocks are yielded
    # while other sources' are merged in, so whatever is kept here is kept for every source at once.
    del reach
    lo = 0
    for hi in itertools.chain((int(b) for b in breaks), (len(order),)):
        block = order[lo:hi]
        yield block, int(start[block[0]]), int(end[block].max())
        lo = hi


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
        asleep_start=asleep[0][0],
        wakes=wakes,
        staged=staged,
        # Bedtime is only known from InBed: a leading Awake or the first record says when tracking
        # began, and for a night typed in by hand the asleep span is all there is.
        bed=(in_bed_start, in_bed_end) if in_bed_raw else None,
    )


def _is_nap(night: _Night) -> bool:
    _, seconds = _local_day(night.wake, night.wake_offset)
    return night.asleep < NAP_MAX_ASLEEP and NAP_END_WINDOW[0] <= seconds <= NAP_END_WINDOW[1]


def _sleep_payload(day: date, night: _Night, vendor: str) -> dict[str, Any]:
    asleep_min = night.asleep / 60
    payload: dict[str, Any] = {"date": day.isoformat(), "durationMin": round(asleep_min, 1)}
    in_bed_min = None
    if night.bed is not None:
        in_bed_min = (night.bed[1] - night.bed[0]) / 60
        if in_bed_min > 0:
            payload["efficiencyPct"] = round(min(100.0, asleep_min / in_bed_min * 100), 1)
        latency_min = (night.asleep_start - night.bed[0]) / 60
        # The ingest API refuses more; such a bedtime (asleep 12 h after it) says nothing about this
        # night's sleep onset, and refusing it would refuse the whole import.
        if latency_min <= MAX_LATENCY_MIN:
            payload["latencyMin"] = round(latency_min, 1)
    if vendor != MANUAL:
        payload["wakeCount"] = night.wakes
    if in_bed_min is not None:
        payload["inBedMin"] = round(in_bed_min, 1)
    payload["vendor"] = vendor
    payload["capturedAt"] = _iso(night.wake, night.wake_offset)
    payload["sourceDevice"] = night.source
    return payload


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
    zone = _zone(default_tz)
    days = _Days(limits.max_records)
    with _open(path, limits) as (stream, total):
        read = 0

        def on_read(size: int) -> None:
            nonlocal read
            read += size
            if progress is not None:
                progress(read, max(total, read))

        for item in _scan(stream, zone, on_read, limits.max_xml_bytes):
            days.add(item)
    hrv, sleep = days.payloads()
    day_count = len({p["date"] for p in hrv} | {p["date"] for p in sleep})
    message = None
    if days.records == 0:
        message = (
            "this export holds no HRV (SDNN), resting heart rate or sleep records, so nothing was "
            "imported: are they recorded in the Health app (Apple Watch, or an app that writes them)?"
        )
    elif day_count == 0:
        message = (
            f"none of this export's {days.records} HRV, resting heart rate and sleep records gave a "
            f"night or day ({days.skipped} skipped), so nothing was imported"
        )
    summary = ImportSummary(
        records=days.records, days=day_count, skipped=days.skipped, errors=list(days.errors), message=message
    )
    return hrv, sleep, summary
