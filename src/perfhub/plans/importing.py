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

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from perfhub.core.errors import PayloadTooLarge, Unprocessable
from perfhub.plans.schemas import Intensity, SessionFields

Format = Literal["csv", "ics"]

# A plan covers months, not years: a file over these is refused, or cut with an error saying so.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_SESSIONS = 1000
# A recurring event is expanded from the athlete's today (or its own start, if later) this far.
RECURRENCE_WINDOW = timedelta(weeks=26)
# external_uid is VARCHAR(255): longer keys are stored as their hash.
MAX_UID = 255

REQUIRED_COLUMNS = ("date", "sport", "title", "type", "durationMin")
OPTIONAL_COLUMNS = ("intensity", "plannedLoad", "uid")
SESSION_TYPES = ("easy", "moderate", "hard", "rest")


@dataclass(frozen=True)
class RowError:
    """Why one row (CSV: its line number, the header being 1) or event (its UID) was left out."""

    row: int | None
    uid: str | None
    field: str | None
    message: str


@dataclass(frozen=True)
class PlanItem:
    fields: SessionFields
    uid: str | None  # the key a later import of the same file finds this session by
    row: int | None = None


@dataclass
class ParsedPlan:
    format: Format
    sessions: list[PlanItem] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped: int = 0  # cancelled events


class _RowProblem(ValueError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _RowProblems(ValueError):
    def __init__(self, problems: list[_RowProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


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


# --------------------------------------------------------------------------------------------
# Intensity, as people write it
# --------------------------------------------------------------------------------------------

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_INTENSITY_FORMS: tuple[tuple[str, str], ...] = (
    ("zone", rf"(?:z|zone)\s*{_NUMBER}"),
    ("ftp", rf"{_NUMBER}\s*%\s*(?:of\s+)?ftp"),
    ("pace", r"(\d{1,2}):([0-5]\d)\s*(?:min)?\s*/\s*(km|mi|mile)"),
    ("rpe", rf"rpe\s*{_NUMBER}"),
)
_INTENSITY_EXACT = [(kind, re.compile(rf"^{body}$", re.I)) for kind, body in _INTENSITY_FORMS]
_INTENSITY_IN_TEXT = [(kind, re.compile(rf"\b{body}\b", re.I)) for kind, body in _INTENSITY_FORMS]
INTENSITY_HELP = "write it as Z2, zone 3, 75% FTP, 4:30/km (or /mi) or RPE 6"
KM_PER_MILE = 1.609344


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _intensity_of(kind: str, match: re.Match[str]) -> Intensity:
    if kind == "pace":
        seconds = int(match.group(1)) * 60 + int(match.group(2))
        per_km = seconds if match.group(3).lower() == "km" else round(seconds / KM_PER_MILE)
        value = float(per_km)
    else:
        value = _number(match.group(1))
    try:
        return Intensity(kind=kind, value=value)
    except ValidationError as exc:
        raise _RowProblem("intensity", _messages(exc)) from exc


def parse_intensity(text: str) -> Intensity | None:
    """``Z2``, ``zone 3``, ``75% FTP``, ``4:30/km``, ``8:00/mi``, ``RPE 6``; blank is none."""
    text = " ".join(text.split())
    if not text:
        return None
    for kind, pattern in _INTENSITY_EXACT:
        match = pattern.match(text)
        if match:
            return _intensity_of(kind, match)
    raise _RowProblem("intensity", f"{text!r} is not an intensity: {INTENSITY_HELP}")


def find_intensity(text: str) -> Intensity | None:
    """The first intensity written in free text (an event's description), if any."""
    found = [(m.start(), kind, m) for kind, pattern in _INTENSITY_IN_TEXT if (m := pattern.search(text))]
    if not found:
        return None
    _, kind, match = min(found, key=lambda hit: hit[0])
    return _intensity_of(kind, match)


# --------------------------------------------------------------------------------------------
# Validation into SessionFields, errors named by API field
# --------------------------------------------------------------------------------------------


def _messages(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


def _validate(values: dict[str, Any]) -> SessionFields:
    try:
        return SessionFields.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        message = str(first["msg"]).removeprefix("Value error, ")
        name = str(loc[0]) if loc else ("durationMin" if message.startswith("durationMin") else None)
        raise _RowProblem(name, message) from exc


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(text: str) -> date:
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _RowProblem("date", f"{text!r} is not a date as YYYY-MM-DD") from None


def _minutes(text: str) -> int:
    match = re.fullmatch(r"(\d+)(?:[.,]0+)?", text)
    if not match:
        raise _RowProblem("durationMin", f"{text!r} is not a number of whole minutes")
    return int(match.group(1))


def _load(text: str) -> float | None:
    if not text:
        return None
    if not re.fullmatch(r"\d+(?:[.,]\d+)?", text):
        raise _RowProblem("plannedLoad", f"{text!r} is not a number")
    return _number(text)


def stable_uid(uid: str) -> str:
    """``uid`` as stored: itself when it fits, else a hash of it that does."""
    if len(uid) <= MAX_UID:
        return uid
    return "sha256:" + hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _column_key(name: str) -> str:
    # "durationMin", "Duration Min", "duration_min" and "DURATION-MIN" are one column.
    return re.sub(r"[\s_\-]+", "", name).lower()


_COLUMNS = {_column_key(name): name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}


def _sniff_delimiter(header: str) -> str:
    # Column names hold none of these, so the header line alone says which one separates them.
    counts = {delimiter: header.count(delimiter) for delimiter in ",;\t"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_csv(text: str) -> ParsedPlan:
    """A header row naming ``date,sport,title,type,durationMin`` (any order, case and spacing;
    ``intensity``, ``plannedLoad`` and ``uid`` optional, other columns ignored), then one session
    per row. Blank lines are skipped; ``,``, ``;`` or tab separates cells."""
    plan = ParsedPlan("csv")
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise Unprocessable("the file is empty", [{"loc": ["body"], "msg": "empty file"}])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(lines[header_at]))
    try:
        records = list(_records(reader))
    except csv.Error as exc:
        raise Unprocessable(f"not a readable CSV file: {exc}", [{"loc": ["body"], "msg": str(exc)}]) from exc
    if not records:
        raise Unprocessable("the file is empty", [{"loc": ["body"], "msg": "empty file"}])
    _, header = records[0]
    columns = _header(header)
    seen: dict[str, int] = {}
    for line, cells in records[1:]:
        if len(plan.sessions) >= MAX_SESSIONS:
            plan.errors.append(_too_many(line, None))
            break
        values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in columns.items()}
        uid = values.get("uid") or None
        try:
            if any(cell.strip() for cell in cells[len(header) :]):
                raise _RowProblem(None, f"the row has {len(cells)} cells, the header {len(header)}")
            item = PlanItem(_csv_fields(values), stable_uid(uid) if uid else None, line)
        except _RowProblem as problem:
            plan.errors.append(RowError(line, uid, problem.field, problem.message))
            continue
        except _RowProblems as found:
            plan.errors += [RowError(line, uid, p.field, p.message) for p in found.problems]
            continue
        if item.uid is not None and item.uid in seen:
            plan.errors.append(RowError(line, uid, "uid", f"repeats the uid of row {seen[item.uid]}"))
            continue
        if item.uid is not None:
            seen[item.uid] = line
        plan.sessions.append(item)
    return plan


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (1-based; a quoted cell may span lines)."""
    line_num = 0
    for cells in reader:
        start = line_num + 1
        line_num = reader.line_num  # type: ignore[attr-defined]
        if any(cell.strip() for cell in cells):
            yield start, cells


def _header(cells: list[str]) -> dict[int, str]:
    columns: dict[int, str] = {}
    for index, cell in enumerate(cells):
        name = _COLUMNS.get(_column_key(cell))
        if name is None:
            continue
        if name in columns.values():
            raise Unprocessable(
                f"the header names the column {name} twice", [{"loc": ["body", 1, name], "msg": "repeated"}]
            )
        columns[index] = name
    missing = [name for name in REQUIRED_COLUMNS if name not in columns.values()]
    if missing:
        raise Unprocessable(
            f"the first row must be a header naming {', '.join(REQUIRED_COLUMNS)}; "
            f"missing: {', '.join(missing)}",
            [{"loc": ["body", 1, name], "msg": "missing column"} for name in missing],
        )
    return columns


def _csv_fields(values: dict[str, str]) -> SessionFields:
    """The row's session, or every problem of its cells at once (:class:`_RowProblems`)."""
    problems = [_RowProblem(name, f"{name} is empty") for name in REQUIRED_COLUMNS if not values[name]]
    converted: dict[str, Any] = {"sport": values["sport"], "title": values["title"]}
    kind = values["type"].lower()
    if kind and kind not in SESSION_TYPES:
        problems.append(
            _RowProblem("type", f"{values['type']!r} is not a type: easy, moderate, hard or rest")
        )
    converted["type"] = kind
    readers = (
        ("date", _date, values["date"]),
        ("durationMin", _minutes, values["durationMin"]),
        ("intensity", parse_intensity, values.get("intensity", "")),
        ("plannedLoad", _load, values.get("plannedLoad", "")),
    )
    for name, read, text in readers:
        if not text and name in REQUIRED_COLUMNS:
            continue
        try:
            converted[name] = read(text)
        except _RowProblem as problem:
            problems.append(problem)
    if problems:
        raise _RowProblems(problems)
    return _validate(converted)


def _too_many(row: int | None, uid: str | None) -> RowError:
    return RowError(row, uid, None, f"more than {MAX_SESSIONS} sessions in one file: the rest was not read")


# --------------------------------------------------------------------------------------------
# iCalendar
# --------------------------------------------------------------------------------------------

# The words that name a sport or say how hard a session is, looked for as whole words in an
# event's CATEGORIES, then its SUMMARY, then its DESCRIPTION; the first of those that holds any
# decides. Within one text the earliest sport named wins, and the hardest type: "intervals with
# easy recoveries" is hard.
SPORT_WORDS: dict[str, tuple[str, ...]] = {
    "run": ("run", "runs", "running", "jog", "jogging"),
    "ride": ("ride", "rides", "riding", "bike", "biking", "cycling", "cycle", "spin"),
    "swim": ("swim", "swims", "swimming", "pool", "open water"),
    "row": ("row", "rowing", "erg"),
    "strength": ("strength", "gym", "weights", "lifting", "s&c"),
    "ski": ("ski", "skiing", "nordic"),
    "hike": ("hike", "hiking", "walk", "walking"),
    "yoga": ("yoga", "mobility", "stretching"),
}
TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "hard": (
        "hard", "interval", "intervals", "tempo", "threshold", "vo2", "vo2max", "vo2 max", "race",
        "sprint", "sprints", "fartlek", "repeats", "time trial", "hiit",
    ),
    "moderate": ("moderate", "endurance", "steady", "aerobic", "base", "long"),
    "easy": ("easy", "recovery", "shakeout", "shake out", "light", "technique", "drills"),
    "rest": ("rest", "rest day", "day off", "off day"),
}  # fmt: skip


def _words(words: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.I)


_SPORTS = [(sport, _words(words)) for sport, words in SPORT_WORDS.items()]
_TYPES = [(kind, _words(words)) for kind, words in TYPE_WORDS.items()]  # hardest first
# "1h30", "2 hours", "90 min": an all-day event's duration, written in its text. A number after
# "x" is a repetition's ("5x3min"), not the session's.
_NOT_REPEAT = r"(?<![x×\d])(?<![x×]\s)"
_HOURS = re.compile(
    rf"{_NOT_REPEAT}(\d{{1,2}})\s*h(?:ours?|rs?)?\s*(?:(\d{{1,2}})\s*(?:minutes?|mins?|m)?)?\b", re.I
)
_MINUTES = re.compile(rf"{_NOT_REPEAT}(\d{{1,4}})\s*(?:minutes?|mins?)\b", re.I)
_WEEKDAYS = {name: index for index, name in enumerate(("MO", "TU", "WE", "TH", "FR", "SA", "SU"))}
_RULE_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"}


def _sport_in(texts: Iterable[str]) -> str | None:
    for text in texts:
        hits = [(m.start(), sport) for sport, pattern in _SPORTS if (m := pattern.search(text))]
        if hits:
            return min(hits)[1]
    return None


def _type_in(texts: Iterable[str]) -> str | None:
    for text in texts:
        for kind, pattern in _TYPES:
            if pattern.search(text):
                return kind
    return None


def _minutes_in(texts: Iterable[str]) -> int | None:
    for text in texts:
        if match := _HOURS.search(text):
            return int(match.group(1)) * 60 + int(match.group(2) or 0)
        if match := _MINUTES.search(text):
            return int(match.group(1))
    return None


When = date | datetime


def _value(event: Any, name: str, field: str) -> When | timedelta | None:
    prop = event.get(name)
    if prop is None:
        return None
    try:
        value = getattr(prop, "dt", None)
    except Exception:  # the library's own error for a value it could not parse (a "broken" property)
        value = None
    if not isinstance(value, date | timedelta):
        raise _RowProblem(
            field, f"{name} is not readable: {str(getattr(prop, 'to_ical', lambda: prop)())[:60]}"
        )
    return value


def _values(event: Any, name: str) -> list[When]:
    """Every date of a list property (EXDATE, RDATE), given once or many times."""
    props = event.get(name)
    found: list[When] = []
    for prop in props if isinstance(props, list) else [props] if props is not None else []:
        for item in getattr(prop, "dts", []):
            if isinstance(item.dt, date):
                found.append(item.dt)
    return found


def _local_date(value: When, zone: ZoneInfo) -> date:
    # A time with a zone (TZID or UTC) is moved to the athlete's; a floating time is theirs already.
    if isinstance(value, datetime):
        return (value.astimezone(zone) if value.tzinfo else value).date()
    return value


def _aligned(value: When, base: datetime, zone: ZoneInfo) -> datetime:
    """``value`` made comparable with the series' first start ``base`` (both floating or both zoned)."""
    if not isinstance(value, datetime):
        return datetime.combine(value, base.timetz())
    if base.tzinfo is None:
        return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
    return value if value.tzinfo else value.replace(tzinfo=base.tzinfo)


def _recurrence_key(value: When) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is not None:
        return value.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%dT%H%M%S")


def _text(event: Any, name: str) -> str:
    value = event.get(name)
    return "" if value is None else str(value)


def _categories(event: Any) -> list[str]:
    props = event.get("CATEGORIES")
    items = props if isinstance(props, list) else [props] if props is not None else []
    return [str(cat) for item in items for cat in getattr(item, "cats", [item])]


def parse_ics(text: str, *, tz: str, today: date) -> ParsedPlan:
    """Each VEVENT of the calendar as sessions (see the module and docs/plans.md for the rules).
    ``tz`` is the athlete's zone and ``today`` their local today, where recurrences start."""
    from icalendar import Calendar

    zone = ZoneInfo(tz)
    try:
        calendar = Calendar.from_ical(text)
    except Exception as exc:  # the library's errors on malformed input differ from one version to the next
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise Unprocessable(
            f"not a readable iCalendar file: {reason}", [{"loc": ["body"], "msg": reason}]
        ) from exc
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise Unprocessable("not an iCalendar file: it must begin with BEGIN:VCALENDAR")
    events = list(calendar.walk("VEVENT"))
    if not events:
        raise Unprocessable("the calendar holds no events", [{"loc": ["body"], "msg": "no VEVENT"}])
    plan = ParsedPlan("ics")
    overridden = {key for event in events if (key := _override_key(event)) is not None}
    seen: set[str] = set()
    for event in events:
        uid = _text(event, "UID").strip() or None
        try:
            if _text(event, "STATUS").strip().upper() == "CANCELLED":
                plan.skipped += 1
                continue
            items = _event_sessions(event, uid, zone, today, overridden)
        except _RowProblem as problem:
            plan.errors.append(RowError(None, uid, problem.field, _named(event, uid, problem.message)))
            continue
        except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
            # Values each fine alone but not together (a start in year 9999 and a 26-week window,
            # a zoned start and a floating end): the event is left out, the file still read.
            message = _named(event, uid, f"could not be read: {str(exc)[:120] or type(exc).__name__}")
            plan.errors.append(RowError(None, uid, None, message))
            continue
        for item in items:
            if len(plan.sessions) >= MAX_SESSIONS:
                plan.errors.append(_too_many(None, uid))
                return plan
            if item.uid in seen:
                message = _named(event, uid, "repeats the UID (and RECURRENCE-ID) of an earlier event")
                plan.errors.append(RowError(None, uid, None, message))
                break
            seen.add(item.uid or "")
            plan.sessions.append(item)
    return plan


def _named(event: Any, uid: str | None, message: str) -> str:
    # An event without a UID is found by its summary.
    return message if uid else f"event {_text(event, 'SUMMARY').strip()[:60]!r} (no UID): {message}"


def _key(event: Any, uid: str | None, start: When) -> str:
    if uid is None:
        # RFC 5545 requires a UID; without one the event is known by when and what it is.
        digest = hashlib.sha256(f"{_recurrence_key(start)}|{_text(event, 'SUMMARY')}".encode()).hexdigest()
        uid = f"nouid:{digest[:40]}"
    return uid


def _override_key(event: Any) -> str | None:
    try:
        rid = _value(event, "RECURRENCE-ID", "date")
    except _RowProblem:
        return None
    uid = _text(event, "UID").strip()
    return stable_uid(f"{uid}#{_recurrence_key(rid)}") if uid and isinstance(rid, date) else None


def _event_sessions(
    event: Any, uid: str | None, zone: ZoneInfo, today: date, overridden: set[str]
) -> list[PlanItem]:
    start = _value(event, "DTSTART", "date")
    if not isinstance(start, date):
        raise _RowProblem("date", "the event has no DTSTART")
    summary = _text(event, "SUMMARY").strip()
    description = _text(event, "DESCRIPTION")
    texts = [", ".join(_categories(event)), summary, description]
    kind = _type_in(texts)
    if kind is None:
        raise _RowProblem("type", "no word says how hard it is: add a category easy, moderate, hard or rest")
    # A rest day names no sport, and needs none.
    sport = _sport_in(texts) or ("rest" if kind == "rest" else None)
    if sport is None:
        raise _RowProblem("sport", f"no sport named: add a category such as {', '.join(SPORT_WORDS)}")
    minutes = _length(event, start, [summary, description])
    if minutes is None:
        if kind != "rest":
            raise _RowProblem(
                "durationMin",
                "no duration: give the event an end, or write it in its text (“60 min”, “1h30”)",
            )
        minutes = 0
    intensity = find_intensity(description) or find_intensity(summary)
    fields = _validate(
        {
            "date": _local_date(start, zone),
            "sport": sport,
            "title": summary or sport,
            "type": kind,
            "durationMin": minutes,
            "intensity": intensity,
        }
    )
    base = _key(event, uid, start)
    rid = _value(event, "RECURRENCE-ID", "date")
    if isinstance(rid, date):  # one occurrence of a series, moved or changed
        return [PlanItem(fields, stable_uid(f"{base}#{_recurrence_key(rid)}"))]
    if event.get("RRULE") is None and event.get("RDATE") is None:
        return [PlanItem(fields, stable_uid(base))]
    items = []
    for occurrence in _occurrences(event, start, zone, today):
        key = stable_uid(f"{base}#{_recurrence_key(occurrence)}")
        if key not in overridden:
            items.append(PlanItem(fields.model_copy(update={"date": _local_date(occurrence, zone)}), key))
    return items


def _length(event: Any, start: When, texts: list[str]) -> int | None:
    """Minutes from DTEND or DURATION, else (an all-day event, or one without an end) from its text."""
    end = _value(event, "DTEND", "durationMin")
    duration = _value(event, "DURATION", "durationMin")
    delta: timedelta | None = None
    if isinstance(duration, timedelta) and (isinstance(start, datetime) or duration < timedelta(days=1)):
        delta = duration
    elif isinstance(start, datetime) and isinstance(end, datetime):
        if (start.tzinfo is None) != (end.tzinfo is None):
            raise _RowProblem("durationMin", "DTSTART and DTEND mix a floating time with a zoned one")
        delta = end - start
    if delta is not None and delta < timedelta(0):
        raise _RowProblem("durationMin", "the event ends before it starts")
    if delta:
        return round(delta.total_seconds() / 60)
    return _minutes_in(texts)


def _occurrences(event: Any, start: When, zone: ZoneInfo, today: date) -> Iterator[When]:
    """The starts of a recurring event from the athlete's today (or its first start, if later)
    for :data:`RECURRENCE_WINDOW`. Only daily and weekly rules are expanded: they always recur,
    whereas a rule that can never match (30 February) would keep the expansion busy for ages."""
    from dateutil.rrule import DAILY, WEEKLY, rrule, rruleset

    all_day = not isinstance(start, datetime)
    base = datetime.combine(start, time()) if all_day else start
    assert isinstance(base, datetime)
    series = rruleset()
    rules = event.get("RRULE")
    for recur in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        parts = {str(name).upper(): list(values) for name, values in recur.items()}
        freq = str(parts.get("FREQ", [""])[0]).upper()
        if freq not in ("DAILY", "WEEKLY") or set(parts) - _RULE_PARTS:
            raise _RowProblem(
                "date",
                f"the recurrence {recur.to_ical().decode(errors='replace')[:80]} is not expanded: "
                "only FREQ=DAILY or WEEKLY, with INTERVAL, COUNT, UNTIL and BYDAY weekdays",
            )
        if "COUNT" in parts and "UNTIL" in parts:
            raise _RowProblem("date", "the recurrence has both COUNT and UNTIL")
        days = [str(day).strip().upper() for day in parts.get("BYDAY", [])]
        if any(day not in _WEEKDAYS for day in days):
            raise _RowProblem("date", f"BYDAY {','.join(days)} is not a list of weekdays (MO…SU)")
        until = parts.get("UNTIL", [None])[0]
        interval = int(parts.get("INTERVAL", [1])[0])
        if not 1 <= interval <= 1000:
            raise _RowProblem("date", f"INTERVAL {interval} is out of range")
        series.rrule(
            rrule(
                DAILY if freq == "DAILY" else WEEKLY,
                dtstart=base,
                interval=interval,
                count=int(parts["COUNT"][0]) if "COUNT" in parts else None,
                until=None if until is None else _until(until, base, zone),
                byweekday=[_WEEKDAYS[day] for day in days] or None,
                wkst=_WEEKDAYS.get(str(parts.get("WKST", ["MO"])[0]).upper(), 0),
            )
        )
    series.rdate(base)  # the first start is always an occurrence (RFC 5545)
    for value in _values(event, "RDATE"):
        series.rdate(_aligned(value, base, zone))
    for value in _values(event, "EXDATE"):
        series.exdate(_aligned(value, base, zone))
    first = max(today, _local_date(start, zone))
    last = first + RECURRENCE_WINDOW
    from_ = datetime.combine(first, time(), zone if base.tzinfo else None)
    for occurrence in series.xafter(from_, inc=True):
        if _local_date(occurrence, zone) >= last:
            return
        yield occurrence.date() if all_day else occurrence


def _until(value: Any, base: datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):  # a date: the whole of that day
        value = datetime.combine(value, time(23, 59, 59))
        return value.replace(tzinfo=base.tzinfo) if base.tzinfo else value
    return _aligned(value, base, zone)
