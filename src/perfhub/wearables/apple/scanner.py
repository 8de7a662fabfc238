"""Finding the used ``Record`` elements in an export's bytes, streaming, in bounded memory and time.

Exports run to hundreds of MB, almost all of it records we do not use (heart rate, energy, steps,
each with a long ``device`` string, plus beat-to-beat lists under every SDNN record). The prolog is
checked by expat (:mod:`perfhub.wearables.apple.document`); the body is not parsed as a whole: real
exports carry stray control characters and broken tags in records of other apps, and one of them must
not refuse years of data. The ``Record`` start tags of the three types we use are found by searching
the bytes for their type names and parsed with strict patterns; each one is checked as expat would
check it (characters, references, attributes, its children up to ``</Record>``), and a broken one is
skipped with its line number (:mod:`perfhub.wearables.apple.records`). Comments, CDATA sections and
processing instructions are tracked so that nothing inside them is taken for a record, and the file
must end with ``</HealthData>``, so a cut-off download is refused rather than half imported.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import timezone
from typing import BinaryIO
from zoneinfo import ZoneInfo

from perfhub.wearables.apple.attributes import ATTRIBUTES, Broken, split_attributes
from perfhub.wearables.apple.document import (
    MAX_PROLOG_BYTES,
    MAX_TAG_BYTES,
    check_prolog,
    ends_document,
    find_prolog,
)
from perfhub.wearables.apple.errors import AppleHealthError, size_text
from perfhub.wearables.apple.records import (
    MAX_METADATA,
    TYPE_BEFORE,
    AppleRecord,
    Invalid,
    OpenRecord,
    read_metadata,
    read_record,
    short_name,
    zone_named,
)
from perfhub.wearables.apple.summary import MAX_ERRORS
from perfhub.wearables.apple.workouts import (
    AppleWorkout,
    InvalidWorkout,
    WorkoutHeartRate,
    read_heart_rate,
    read_workout,
)

# What the scan finds: the used records, and the workouts with their heart-rate statistics.
Found = AppleRecord | Invalid | AppleWorkout | InvalidWorkout | WorkoutHeartRate

CHUNK_BYTES = 1 << 20
TAIL_BYTES = 64 << 10

_RECORD_OPEN = re.compile(rb"<Record[\s/>]")
# A used record's type name or a workout's activity type: one search, with the literal prefix
# "HK" that lets it skip through the bytes in C, finds both.
_WANTED = re.compile(
    rb"HK(?:QuantityTypeIdentifier(?:HeartRateVariabilitySDNN|RestingHeartRate)"
    rb"|CategoryTypeIdentifierSleepAnalysis|WorkoutActivityType[A-Za-z0-9]*)[\"']"
)
_WORKOUT_OPEN = re.compile(rb"<Workout[\s/>]")
_WORKOUT_TAG = re.compile(rb"<Workout" + ATTRIBUTES + rb"(/?)>")
_WORKOUT_CHILD = re.compile(rb"<WorkoutStatistics(?=[\s/>])|</Workout\s*>")
_STATISTICS_TAG = re.compile(rb"<WorkoutStatistics" + ATTRIBUTES + rb"/?>")
_RECORD_TAG = re.compile(rb"<Record" + ATTRIBUTES + rb"(/?)>")
# Only to say why a tag is broken (a '<' in a value), for the few reasons a summary keeps.
_LENIENT_RECORD_TAG = re.compile(rb"<Record((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>")
_CONTENT_MARK = re.compile(rb"<(/?)(?:Record|MetadataEntry)(?=[\s/>])")
_RECORD_MARK = re.compile(rb"<(/?)Record(?=[\s/>])")
_CLOSE_RECORD = re.compile(rb"</Record\s*>")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_OPENER = re.compile(rb"<[!?]")
_OPAQUE = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
# Steps over text, tags and whole comments, CDATA sections and processing instructions, and stops at
# one whose end is not in what it is given. Possessive, so it never backtracks, and in C: a body of
# nothing but "<?a?>" is stepped over at tens of MB/s rather than one Python step per item.
_OUTSIDE = re.compile(
    rb"(?:[^<]++|<+(?![!?])|<!(?!--|\[CDATA\[)|<!--.*?-->|<\?.*?\?>|<!\[CDATA\[.*?\]\]>)*+", re.DOTALL
)


class Scanner:
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
        self._open: OpenRecord | None = None
        self._workout_open = False  # inside a Workout element: its statistics are read

    def feed(self, chunk: bytes, *, final: bool = False) -> list[Found]:
        if self._fed == 0 and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise AppleHealthError("export.xml is UTF-16; Apple Health exports are UTF-8")
        self._fed += len(chunk)
        self._tail = (self._tail + chunk)[-TAIL_BYTES:] if len(chunk) < TAIL_BYTES else chunk[-TAIL_BYTES:]
        buf = self._carry + chunk if self._carry else chunk
        base = self._base
        if self._body_from < 0:
            # The prolog is searched from its start after every chunk, and carried whole until the
            # root start tag: past MAX_PROLOG_BYTES it is judged as it stands (and refused).
            prolog = find_prolog(buf, final=final or len(buf) >= MAX_PROLOG_BYTES)
            if prolog is None:
                self._carry = buf
                return []
            check_prolog(buf, prolog)
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

    def close(self) -> list[Found]:
        if self._fed == 0:
            raise AppleHealthError("the file is empty; expected an Apple Health export.xml")
        found = self.feed(b"", final=True)
        if self._pending_close is not None:
            raise AppleHealthError(
                f"export.xml is damaged: the comment or section opened at line {self._pending_line} "
                "never ends, so what follows cannot be told from data"
            )
        if self._open is not None or not (self._empty_root or ends_document(self._tail)):
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

    def _search(self, buf: bytes, base: int, lo: int, cut: int) -> list[Found]:
        out: list[Found] = []
        pos = lo
        if self._open is not None:
            pos = self._children(buf, base, max(lo, self._open.scan_from - base), cut, out)
            if pos < 0:
                return out
        if self._workout_open:
            pos = self._workout_children(buf, pos, cut, out)
            if pos >= cut:
                return out
        # Every step moves ``pos`` forward and every search starts at it, so a chunk costs time in
        # proportion to its length whatever it holds (a run of type names with no '<' between them
        # made the search for each one's tag start go back to the start of the chunk: quadratic).
        floor = pos  # a tag starting before this is read already, or is not ours to read
        last_lt, searched_to = -1, pos  # the last '<' in buf[floor:searched_to]
        while (match := _WANTED.search(buf, pos, cut)) is not None:
            at = match.start()
            opaque_end = self._opaque_end(buf, base, at)
            if opaque_end >= len(buf):
                break
            if opaque_end >= 0:
                pos = opaque_end
                continue
            if buf.startswith(b"HKWorkout", at):
                step = self._workout(buf, at, cut, floor, searched_to, last_lt, out)
                if step is None:
                    break
                pos, floor, searched_to, last_lt = step
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
                if tag is None and TYPE_BEFORE.search(buf, max(tag_start, at - 64), at):
                    name = short_name(match.group()[:-1].decode())
                    line = self._line_at(buf, tag_start)
                    out.append(Invalid(f"{name} at line {line}: {self._tag_problem(buf, tag_start, cut)}"))
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
                if TYPE_BEFORE.search(buf, max(tag_start, at - 64), at):
                    name = short_name(match.group()[:-1].decode())
                    line = self._line_at(buf, tag_start)
                    out.append(
                        Invalid(
                            f"{name} at line {line}: the Record tag is longer than {size_text(MAX_TAG_BYTES)}"
                        )
                    )
                continue
            item = self._record(buf, tag, tag_start)
            if item is None:
                continue
            if isinstance(item, Invalid) or tag.group(2) == b"/":
                out.append(item)
                continue
            line = self._line_at(buf, tag_start)
            self._open = OpenRecord(item, f"{short_name(item.type)} at line {line}", base + tag.end())
            pos = floor = self._children(buf, base, tag.end(), cut, out)
            if pos < 0:
                break  # the rest of what is searched is this record's children
        return out

    def _workout(
        self, buf: bytes, at: int, cut: int, floor: int, searched_to: int, last_lt: int, out: list[Found]
    ) -> tuple[int, int, int, int] | None:
        """Read the ``Workout`` start tag whose activity type ``_WANTED`` found at ``at``, and its
        statistics; the search state after it (``pos, floor, searched_to, last_lt``), None when the
        rest of what is searched holds no tag to read."""
        lt = buf.rfind(b"<", searched_to, at)
        if lt >= 0:
            last_lt = lt
        tag_start = last_lt
        if tag_start >= floor and _WORKOUT_OPEN.match(buf, tag_start):
            tag = _WORKOUT_TAG.match(buf, tag_start)
            if tag is not None and tag.end() - tag_start <= MAX_TAG_BYTES:
                out.append(read_workout(tag.group(1), self._zone, self._line_at(buf, tag_start)))
                end = tag.end()
                if tag.group(2) != b"/":
                    self._workout_open = True
                    end = self._workout_children(buf, end, cut, out)
                return (end, end, end, tag_start) if end < cut else None
            line = self._line_at(buf, tag_start)
            out.append(InvalidWorkout(f"workout at line {line}: the Workout tag is not well-formed XML"))
            floor = tag_start + 1
        # The name stood elsewhere (another element, or text): on to the next tag.
        pos = buf.find(b"<", at, cut)
        return None if pos < 0 else (pos, floor, at, last_lt)

    def _workout_children(self, buf: bytes, start: int, cut: int, out: list[Found]) -> int:
        """Read the open workout's ``WorkoutStatistics`` in ``buf[start:cut]``: where the workout
        ends, or ``cut`` while it goes on into the next chunk. Its other children (events, route,
        metadata) hold nothing perfhub uses and are stepped over in C."""
        pos = start
        while (mark := _WORKOUT_CHILD.search(buf, pos, cut)) is not None:
            if buf[mark.start() + 1] == ord("/"):
                self._workout_open = False
                return mark.end()
            tag = _STATISTICS_TAG.match(buf, mark.start())
            pos = mark.end() if tag is None else tag.end()
            if tag is not None:
                found = read_heart_rate(tag.group(1), self._zone, self._line_at(buf, mark.start()))
                if found is not None:
                    out.append(found)
        return cut

    def _children(
        self,
        buf: bytes,
        base: int,
        start: int,
        cut: int,
        out: list[Found],
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
            read_metadata(record, buf, at)
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
                return f"the Record tag is longer than {size_text(MAX_TAG_BYTES)}"
            lenient = _LENIENT_RECORD_TAG.match(buf, start, min(end, start + MAX_TAG_BYTES))
            if lenient is not None:
                try:
                    split_attributes(lenient.group(1))
                except Broken as exc:
                    return str(exc)
        return "the Record tag is not well-formed XML"

    def _record(self, buf: bytes, tag: re.Match[bytes], tag_start: int) -> AppleRecord | Invalid | None:
        return read_record(tag.group(1), self._zone, lambda: self._line_at(buf, tag_start))


def _read(stream: BinaryIO) -> bytes:
    try:
        return stream.read(CHUNK_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise AppleHealthError(f"the export archive is damaged: {exc}") from None
    except OSError as exc:
        raise AppleHealthError(f"cannot read the export: {exc}") from None


def scan(
    stream: BinaryIO,
    zone: ZoneInfo | timezone,
    on_read: Callable[[int], None] | None,
    max_bytes: int | None = None,
) -> Iterator[Found]:
    scanner = Scanner(zone)
    read = 0
    try:
        while chunk := _read(stream):
            read += len(chunk)
            # Checked on what is read, not only on the size the file or zip claimed up front: a file
            # may grow while it is read.
            if max_bytes is not None and read > max_bytes:
                raise AppleHealthError(f"the export is over the import limit of {size_text(max_bytes)}")
            yield from scanner.feed(chunk)
            if on_read is not None:
                on_read(len(chunk))
        yield from scanner.close()
    finally:
        scanner.release()


def iter_records(stream: BinaryIO, *, default_tz: str = "UTC") -> Iterator[AppleRecord]:
    """The SDNN, resting-HR and sleep ``Record`` elements of an export, in document order, streaming.

    Dates keep their own UTC offset; a date written without one is read in ``default_tz``. Records
    that are not well-formed or whose dates cannot be read are left out (``import_days`` counts them).
    Raises :class:`AppleHealthError` for a file that is not a ``HealthData`` document or that
    ends before ``</HealthData>``, when the problem is reached: records yielded before it come from a
    file that turned out to be unusable.
    """
    for item in scan(stream, zone_named(default_tz), None):
        if isinstance(item, AppleRecord):
            yield item
