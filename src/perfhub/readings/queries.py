"""Reads of canonical daily data: one winning source per day and signal.

:func:`hrv_days` and :func:`sleep_days` read one athlete's rows; :func:`winning_hrv` and
:func:`winning_sleep` read many athletes' nights in one statement each (a team table asks for
the whole team at once), with the same choice of source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Date, Executable, Select, bindparam, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import one_of_param, one_of_value
from perfhub.readings.mapping import pick_by_priority, source_rank
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.settings import DEFAULT_SOURCE_PRIORITY

Daily = TypeVar("Daily", HrvDaily, SleepDaily)


def source_priority(user: User) -> tuple[str, ...]:
    return tuple(user.source_priority or DEFAULT_SOURCE_PRIORITY)


def _winning(session: Session, model: type[Daily], user: User, start: date, end: date) -> list[Daily]:
    rows = session.scalars(
        select(model).where(model.user_id == user.id, model.date >= start, model.date <= end)
    )
    by_date: dict[date, dict[str, Daily]] = defaultdict(dict)
    for row in rows:
        by_date[row.date][row.vendor] = row
    priority = source_priority(user)
    return [pick_by_priority(by_date[day], priority) for day in sorted(by_date)]


def hrv_days(session: Session, user: User, start: date, end: date) -> list[HrvDaily]:
    return _winning(session, HrvDaily, user, start, end)


def sleep_days(session: Session, user: User, start: date, end: date) -> list[SleepDaily]:
    return _winning(session, SleepDaily, user, start, end)


class NightHrv(NamedTuple):
    """The HRV and resting HR of one athlete-night, from the day's highest-ranked source."""

    ln_rmssd: float | None
    resting_hr: float | None


class NightSleep(NamedTuple):
    """The sleep of one athlete-night, from the day's highest-ranked source."""

    duration_min: float
    efficiency_pct: float | None


def as_date(value: date | str) -> date:
    """A date column as the driver returns it: psycopg gives dates, sqlite3 ISO text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def driver_rows(
    session: Session, statement: Executable, parameters: Mapping[str, Any] | None = None
) -> Sequence[Sequence[Any]]:
    """The driver's own row tuples, with no result processing (dates as :func:`as_date` takes
    them): building SQLAlchemy rows costs more than the fetch when a team's year is read."""
    result = session.connection().execute(statement, parameters)
    try:
        return cast(Sequence[Sequence[Any]], result.cursor.fetchall())
    finally:
        result.close()


def winning_hrv(
    session: Session, priorities: Mapping[int, Sequence[str]], start: date, end: date
) -> dict[tuple[int, date], NightHrv]:
    """Each athlete's nights from ``start`` to ``end``, the highest-ranked source's row of each day
    (the choice of :func:`hrv_days`), for all athletes of ``priorities`` in one statement."""
    return _winners(_night_rows(session, HrvDaily, priorities, start, end), priorities, NightHrv)


def winning_sleep(
    session: Session, priorities: Mapping[int, Sequence[str]], start: date, end: date
) -> dict[tuple[int, date], NightSleep]:
    """:func:`winning_hrv` for sleep (the choice of :func:`sleep_days`)."""
    return _winners(_night_rows(session, SleepDaily, priorities, start, end), priorities, NightSleep)


def _night_rows(
    session: Session,
    model: type[HrvDaily] | type[SleepDaily],
    priorities: Mapping[int, Sequence[str]],
    start: date,
    end: date,
) -> Sequence[Sequence[Any]]:
    """Rows of (user, date, vendor, a, b) of the athletes of ``priorities``, every vendor's."""
    dialect = session.get_bind().dialect.name
    params = {"ids": one_of_value(priorities, dialect), "start": start, "end": end}
    return driver_rows(session, _nights(model, dialect), params)


@lru_cache(maxsize=8)
def _nights(model: type[HrvDaily] | type[SleepDaily], dialect: str) -> Select[*tuple[Any, ...]]:
    # Built once per table: a team table runs both on every request.
    values = (
        (HrvDaily.ln_rmssd, HrvDaily.resting_hr)
        if model is HrvDaily
        else (SleepDaily.duration_min, SleepDaily.efficiency_pct)
    )
    return select(model.user_id, model.date, model.vendor, *values).where(
        one_of_param(model.user_id, "ids", dialect),
        model.date >= bindparam("start", type_=Date()),
        model.date <= bindparam("end", type_=Date()),
    )


Night = TypeVar("Night", NightHrv, NightSleep)


def _winners(
    rows: Sequence[Sequence[Any]], priorities: Mapping[int, Sequence[str]], night: type[Night]
) -> dict[tuple[int, date], Night]:
    """(user, date) → the best-ranked vendor's night; rows are (user, date, vendor, a, b).

    Most athletes wear one device, so most days have one row: every row is taken in one pass,
    and ranks are compared only when that pass found a day with a second vendor."""
    if rows and isinstance(rows[0][1], str):  # sqlite3 gives dates as ISO text
        rows = dated_rows(rows)
    new = tuple.__new__  # straight from C: a named tuple's own constructor is Python
    nights = {(row[0], row[1]): new(night, row[3:5]) for row in rows}
    if len(nights) == len(rows):
        return nights
    best: dict[tuple[int, date], Sequence[Any]] = {}
    for row in rows:
        key = (row[0], row[1])
        held = best.get(key)
        if held is not None:
            priority = tuple(priorities[row[0]])
            if source_rank(priority, held[2]) <= source_rank(priority, row[2]):
                continue
        best[key] = row
    return {key: new(night, row[3:5]) for key, row in best.items()}


def dated_rows(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Rows whose second value, a date as ISO text, is made a date."""
    return [(row[0], as_date(row[1]), *row[2:]) for row in rows]
