"""A plan as iCalendar: VEVENTs (recurrences expanded) as sessions, dated in the athlete's zone."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from perfhub.core.errors import Unprocessable
from perfhub.plans.importing.rows import (
    MAX_SESSIONS,
    RECURRENCE_WINDOW,
    ParsedPlan,
    PlanItem,
    RowError,
    _RowProblem,
    _too_many,
    _validate,
    find_intensity,
    stable_uid,
)

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
                plan.cancelled.extend(_cancelled_keys(event, uid, zone, today))
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


def _cancelled_keys(event: Any, uid: str | None, zone: ZoneInfo, today: date) -> list[str]:
    """The keys an earlier import of the calendar stored the cancelled event's sessions under:
    the event's, one occurrence's (``RECURRENCE-ID``) or, for a whole series, each occurrence's
    from today on. An event without a UID, or whose start cannot be read, names none."""
    if uid is None:
        return []
    try:
        rid = _value(event, "RECURRENCE-ID", "date")
        if isinstance(rid, date):
            return [stable_uid(f"{uid}#{_recurrence_key(rid)}")]
        if event.get("RRULE") is None and event.get("RDATE") is None:
            return [stable_uid(uid)]
        start = _value(event, "DTSTART", "date")
        if not isinstance(start, date):
            return []
        return [
            stable_uid(f"{uid}#{_recurrence_key(when)}") for when in _occurrences(event, start, zone, today)
        ]
    except (_RowProblem, ArithmeticError, LookupError, TypeError, ValueError):
        return []


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
