"""What both readers share: the plan's shape, per-row errors, limits, and the fields as people
write them (dates, minutes, loads, intensity targets), validated into SessionFields."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ValidationError

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
    # The keys of the sessions those cancelled events (or occurrences) were imported under.
    cancelled: list[str] = field(default_factory=list)


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


def _too_many(row: int | None, uid: str | None) -> RowError:
    return RowError(row, uid, None, f"more than {MAX_SESSIONS} sessions in one file: the rest was not read")
