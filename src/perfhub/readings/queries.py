"""Reads of canonical daily data: one winning source per day and signal.

:func:`hrv_days` and :func:`sleep_days` read one athlete's rows; :func:`winning_hrv` and
:func:`winning_sleep` read many athletes' nights in one statement each (a team table asks for
the whole team at once), with the same choice of source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import one_of
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


@dataclass(frozen=True)
class NightHrv:
    """The HRV and resting HR of one athlete-night, from the day's highest-ranked source."""

    ln_rmssd: float | None
    resting_hr: float | None


@dataclass(frozen=True)
class NightSleep:
    """The sleep of one athlete-night, from the day's highest-ranked source."""

    duration_min: float
    efficiency_pct: float | None


def winning_hrv(
    session: Session, priorities: Mapping[int, Sequence[str]], start: date, end: date
) -> dict[tuple[int, date], NightHrv]:
    """Each athlete's nights from ``start`` to ``end``, the highest-ranked source's row of each day
    (the choice of :func:`hrv_days`), for all athletes of ``priorities`` in one statement."""
    stmt = select(HrvDaily.user_id, HrvDaily.date, HrvDaily.vendor, HrvDaily.ln_rmssd, HrvDaily.resting_hr)
    rows = session.execute(_nights(session, stmt, HrvDaily, priorities, start, end))
    return {key: NightHrv(ln, rhr) for key, (ln, rhr) in _winners(rows, priorities).items()}


def winning_sleep(
    session: Session, priorities: Mapping[int, Sequence[str]], start: date, end: date
) -> dict[tuple[int, date], NightSleep]:
    """:func:`winning_hrv` for sleep (the choice of :func:`sleep_days`)."""
    stmt = select(
        SleepDaily.user_id,
        SleepDaily.date,
        SleepDaily.vendor,
        SleepDaily.duration_min,
        SleepDaily.efficiency_pct,
    )
    rows = session.execute(_nights(session, stmt, SleepDaily, priorities, start, end))
    return {key: NightSleep(minutes, pct) for key, (minutes, pct) in _winners(rows, priorities).items()}


def _nights(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    model: type[HrvDaily] | type[SleepDaily],
    priorities: Mapping[int, Sequence[str]],
    start: date,
    end: date,
) -> Select[*tuple[Any, ...]]:
    dialect = session.get_bind().dialect.name
    return stmt.where(
        one_of(model.user_id, list(priorities), dialect), model.date >= start, model.date <= end
    )


def _winners(
    rows: Iterable[Sequence[Any]], priorities: Mapping[int, Sequence[str]]
) -> dict[tuple[int, date], tuple[Any, ...]]:
    """(user, date) → the values of the best-ranked vendor's row; rows are (user, date, vendor, *values)."""
    best: dict[tuple[int, date], tuple[tuple[int, str], tuple[Any, ...]]] = {}
    ranks: dict[tuple[int, str], tuple[int, str]] = {}
    for user_id, day, vendor, *values in rows:
        rank = ranks.get((user_id, vendor))
        if rank is None:
            rank = ranks[user_id, vendor] = source_rank(tuple(priorities[user_id]), vendor)
        key = (user_id, day)
        held = best.get(key)
        if held is None or rank < held[0]:
            best[key] = (rank, tuple(values))
    return {key: values for key, (_, values) in best.items()}
