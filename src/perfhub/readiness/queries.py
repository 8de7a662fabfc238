"""Reads of readiness snapshots and of whether an athlete has any readings at all; the
athletes' canonical readings loaded as engine input (:func:`load_athletes`), whole or from a
window before the first day a recompute writes (docs/readiness.md#incremental-recompute)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, cast

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Executable,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import cast as cast_
from sqlalchemy.orm import QueryableAttribute, Session

from perfhub.auth.models import User
from perfhub.core.db import one_of, one_of_param, one_of_value
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.engine.rules import MEMORY_DAYS
from perfhub.readiness.engine.series import (
    HRV_COLUMNS,
    SLEEP_COLUMNS,
    AthleteSeries,
    as_columns,
)
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.readings.queries import dated_rows, driver_rows, source_priority
from perfhub.training.models import CompletedSession
from perfhub.training.queries import daily_loads


def snapshot_on(session: Session, user_id: int, day: date) -> ReadinessSnapshotRow | None:
    """The current algorithm's snapshot of ``day``, scored or not."""
    return session.scalar(
        select(ReadinessSnapshotRow).where(
            ReadinessSnapshotRow.user_id == user_id,
            ReadinessSnapshotRow.date == day,
            ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
        )
    )


def scored_snapshots(
    session: Session, user_id: int, start: date, end: date
) -> Sequence[ReadinessSnapshotRow]:
    """The current algorithm's scored snapshots from ``start`` to ``end`` inclusive, by date."""
    return session.scalars(
        select(ReadinessSnapshotRow)
        .where(
            ReadinessSnapshotRow.user_id == user_id,
            ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
            ReadinessSnapshotRow.date >= start,
            ReadinessSnapshotRow.date <= end,
            ReadinessSnapshotRow.score.is_not(None),
        )
        .order_by(ReadinessSnapshotRow.date)
    ).all()


class SnapshotDay(NamedTuple):
    """What a team table or a trend shows of one stored snapshot (scored or not).

    ``ln7`` and the normal range are the engine's (docs/readiness.md#normal-range); ``debt_hours``
    the sleep debt on the day, unrounded; ``flags`` the stored codes (docs/readiness.md#flags).
    """

    score: float | None
    band: str | None
    status: str | None
    stale: bool
    flags: tuple[str, ...]
    ln7: float | None
    normal_low: float | None
    normal_high: float | None
    debt_hours: float | None


def snapshot_days(
    session: Session, user_ids: Collection[int], start: date, end: date
) -> dict[tuple[int, date], SnapshotDay]:
    """The current algorithm's snapshots of every athlete of ``user_ids`` from ``start`` to ``end``,
    in one statement. The few baseline numbers are read out of the JSON by the database, so no
    row's whole baselines document is parsed."""
    dialect = session.get_bind().dialect.name
    rows = driver_rows(
        session,
        _snapshot_days_statement(dialect),
        {"ids": one_of_value(user_ids, dialect), "start": start, "end": end},
    )
    # tuple.__new__ straight from C: a named tuple's own constructor is Python, and a team's
    # year is 73,000 of them. Dates come as dates from psycopg, as ISO text from sqlite3.
    new = tuple.__new__
    if rows and isinstance(rows[0][1], str):
        rows = dated_rows(rows)
    return {
        (user_id, day): new(
            SnapshotDay, (score, band, status, bool(stale), _codes(flags), ln7, low, high, debt)
        )
        for user_id, day, score, band, status, stale, flags, ln7, low, high, debt in rows
    }


@lru_cache(maxsize=8)
def _snapshot_days_statement(dialect: str) -> Select[Any]:
    # Built once: a team table runs it on every request.
    baselines = ReadinessSnapshotRow.baselines
    return select(
        ReadinessSnapshotRow.user_id,
        ReadinessSnapshotRow.date,
        ReadinessSnapshotRow.score,
        ReadinessSnapshotRow.band,
        ReadinessSnapshotRow.status,
        ReadinessSnapshotRow.stale,
        cast_(ReadinessSnapshotRow.flags, Text),
        baselines["ln7"].as_float(),
        baselines["normalLow"].as_float(),
        baselines["normalHigh"].as_float(),
        baselines["debtHours"].as_float(),
    ).where(
        one_of_param(ReadinessSnapshotRow.user_id, "ids", dialect),
        ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
        ReadinessSnapshotRow.date >= bindparam("start", type_=Date()),
        ReadinessSnapshotRow.date <= bindparam("end", type_=Date()),
    )


@lru_cache(maxsize=1024)
def _codes(stored: str | None) -> tuple[str, ...]:
    # The flags are read as their JSON text: a team's year has a few dozen distinct lists, each
    # parsed once, where the driver would parse every row's.
    return tuple(json.loads(stored)) if stored else ()


def no_score_reason(session: Session, user_id: int, row: ReadinessSnapshotRow | None) -> str:
    """Why there is no score: the snapshot's own reason, else whether any reading exists at all."""
    if row is not None and row.reason:
        return row.reason
    has_data = session.scalar(
        select(HrvDaily.id).where(HrvDaily.user_id == user_id).limit(1)
    ) or session.scalar(select(SleepDaily.id).where(SleepDaily.user_id == user_id).limit(1))
    return "no_recent_data" if has_data else "no_data"


def _by_user(rows: Sequence[Sequence[Any]], names: tuple[str, ...]) -> dict[int, dict[str, np.ndarray]]:
    """Rows of (user_id, day ordinal, vendor, *numbers) ordered by user, as each user's columns
    in :func:`as_columns`' form (views of one array per column)."""
    if not rows:
        return {}
    # Transposed in C and converted a column at a time: a per-row Python loop costs more than
    # the fetch itself at a few hundred rows per athlete. None becomes NaN.
    user_id, day, vendor, *numbers = zip(*rows, strict=True)
    user_ids = np.array(user_id, dtype=np.int64)
    columns = {"day": np.array(day, dtype=np.int64), "vendor": np.array(vendor, dtype=object)}
    columns |= {
        name: np.array(values, dtype=np.float64) for name, values in zip(names[2:], numbers, strict=True)
    }
    starts = np.flatnonzero(np.r_[True, user_ids[1:] != user_ids[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return {
        int(user_ids[begin]): {name: array[begin:end] for name, array in columns.items()}
        for begin, end in zip(starts.tolist(), ends.tolist(), strict=True)
    }


def _ordinal(day: QueryableAttribute[date], dialect: str) -> ColumnElement[int]:
    """The date as ``date.toordinal()`` does, computed by the database (whose drivers would
    otherwise build a date object, or an ISO string to parse, per row)."""
    if dialect == "postgresql":
        return cast_(day - literal(date(1, 1, 1)) + 1, Integer)
    return cast_(func.julianday(day) - 1721424.5, Integer)  # julianday('0001-01-01') = 1721425.5


def _fetch(connection: Connection, statement: Executable) -> Sequence[Sequence[Any]]:
    """The driver's own row tuples: building SQLAlchemy rows costs twice the fetch itself here.

    No result processing happens: columns come back as the driver has them, which is why dates
    are read as ordinals (:func:`_ordinal`).
    """
    result = connection.execute(statement)
    try:
        return cast(Sequence[Sequence[Any]], result.cursor.fetchall())
    finally:
        result.close()


def window_start(since: date) -> date:
    """The first day a batch recomputing the days from ``since`` on must hold: a day's result
    depends only on the inputs of its last ``MEMORY_DAYS`` days (docs/readiness.md#incremental-recompute)."""
    return since - timedelta(days=MEMORY_DAYS)


def read_from(since: date) -> date:
    """The first day whose readings such a recompute reads: :func:`window_start`. (Primary
    sources are chosen from readings already inside ``MEMORY_DAYS``; the batch's first days,
    whose choice would reach further back, are never written.)"""
    return window_start(since)


@dataclass(kw_only=True)
class WindowedSeries(AthleteSeries):
    """An athlete's readings and load from ``read_from(since)`` on only, for a recompute of the
    days from ``since`` on.

    ``first_day()`` is the first day of the whole history, not of the loaded readings: snapshot
    spans and the input hashes' clamp use it, so that a day hashes the same whichever way it was
    computed. ``last_day()`` and ``last_night()`` are the loaded readings' (``None`` when nothing
    arrived inside the window).
    """

    since: date
    history_start: date | None

    def first_day(self) -> date | None:
        return self.history_start


def load_athletes(
    session: Session, users: Sequence[User], since: Mapping[int, date] | None = None
) -> list[AthleteSeries]:
    """Each athlete's canonical readings and training load as engine input, in ``users`` order.

    Without ``since`` (or for an athlete not in it), the whole history. For an athlete with a
    day in ``since`` — the first day a recompute will write — only what the results from that
    day on can depend on (:func:`read_from`), as a :class:`WindowedSeries`: the cost of a
    recompute after a new night does not grow with the length of the history.
    """
    # Core rows fetched all at once and turned into columns chunk by chunk: this runs for every
    # athlete of every insights batch, so per-row Python work is kept to the minimum.
    connection = session.connection()
    dialect = connection.dialect.name
    hrv: dict[int, dict[str, np.ndarray]] = {}
    sleep: dict[int, dict[str, np.ndarray]] = {}
    ids = [user.id for user in users]
    windowed = {user_id: since[user_id] for user_id in ids if user_id in since} if since else {}
    starts = {user_id: read_from(day) for user_id, day in windowed.items()}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        hrv_rows = _fetch(
            connection,
            select(
                HrvDaily.user_id,
                _ordinal(HrvDaily.date, dialect),
                HrvDaily.vendor,
                HrvDaily.rmssd_ms,
                HrvDaily.sdnn_ms,
                HrvDaily.resting_hr,
            )
            .where(_dated(HrvDaily.user_id, HrvDaily.date, chunk, starts, dialect))
            .order_by(HrvDaily.user_id, HrvDaily.date),
        )
        hrv.update(_by_user(hrv_rows, HRV_COLUMNS))
        sleep_rows = _fetch(
            connection,
            select(
                SleepDaily.user_id,
                _ordinal(SleepDaily.date, dialect),
                SleepDaily.vendor,
                SleepDaily.duration_min,
                SleepDaily.efficiency_pct,
                SleepDaily.latency_min,
                SleepDaily.wake_count,
            )
            .where(_dated(SleepDaily.user_id, SleepDaily.date, chunk, starts, dialect))
            .order_by(SleepDaily.user_id, SleepDaily.date),
        )
        sleep.update(_by_user(sleep_rows, SLEEP_COLUMNS))
    no_hrv, no_sleep = as_columns([], HRV_COLUMNS), as_columns([], SLEEP_COLUMNS)
    loads = daily_loads(session, [user_id for user_id in ids if user_id not in starts])
    loads.update(_daily_loads_from(session, starts))
    firsts = _first_days(session, list(starts))
    athletes: list[AthleteSeries] = []
    for user in users:
        common: dict[str, Any] = {
            "user_id": user.id,
            "tz": user.tz,
            "priority": source_priority(user),
            # 0: no need set, the engine estimates it.
            "sleep_need_min": float(user.sleep_need_min or 0),
            "hrv": hrv.get(user.id, no_hrv),
            "sleep": sleep.get(user.id, no_sleep),
            "load": loads.get(user.id, {}),
        }
        if user.id in windowed:
            athletes.append(
                WindowedSeries(**common, since=windowed[user.id], history_start=firsts.get(user.id))
            )
        else:
            athletes.append(AthleteSeries(**common))
    return athletes


def _dated(
    user: QueryableAttribute[int],
    day: QueryableAttribute[date],
    ids: Sequence[int],
    starts: Mapping[int, date],
    dialect: str,
) -> ColumnElement[bool]:
    """Rows of the athletes ``ids``, from each one's day in ``starts`` where it has one: one range
    of the (athlete, date) index per distinct day (after an event most athletes share one)."""
    groups: dict[date | None, list[int]] = {}
    for user_id in ids:
        groups.setdefault(starts.get(user_id), []).append(user_id)
    return or_(
        *(
            one_of(user, members, dialect)
            if first is None
            else and_(one_of(user, members, dialect), day >= first)
            for first, members in groups.items()
        )
    )


def _daily_loads_from(session: Session, starts: Mapping[int, date]) -> dict[int, dict[date, float]]:
    """:func:`perfhub.training.queries.daily_loads` of the athletes of ``starts``, from each one's
    day on (the (athlete, date) index), where that reads every day of the history."""
    loads: dict[int, dict[date, float]] = {}
    ids = list(starts)
    dialect = session.get_bind().dialect.name
    for chunk in range(0, len(ids), 500):
        statement = (
            select(CompletedSession.athlete_id, CompletedSession.date, func.sum(CompletedSession.load))
            .where(
                _dated(
                    CompletedSession.athlete_id,
                    CompletedSession.date,
                    ids[chunk : chunk + 500],
                    starts,
                    dialect,
                )
            )
            .group_by(CompletedSession.athlete_id, CompletedSession.date)
        )
        for athlete_id, day, load in session.execute(statement):
            loads.setdefault(athlete_id, {})[day] = float(load or 0.0)
    return loads


def _first_days(session: Session, ids: Sequence[int]) -> dict[int, date]:
    """Each athlete's first day as :meth:`AthleteSeries.first_day` has it over the whole history:
    the first HRV or sleep reading or logged training. A correlated MIN per athlete and table is
    one seek of its (athlete, date) index on both databases, however long the history."""
    found: dict[int, date] = {}
    dialect = session.get_bind().dialect.name
    firsts = [
        select(func.min(model.date)).where(model.user_id == User.id).scalar_subquery()
        for model in (HrvDaily, SleepDaily)
    ]
    firsts.append(
        select(func.min(CompletedSession.date))
        .where(CompletedSession.athlete_id == User.id)
        .scalar_subquery()
    )
    for chunk in range(0, len(ids), 500):
        for user_id, *days in session.execute(
            select(User.id, *firsts).where(one_of(User.id, ids[chunk : chunk + 500], dialect))
        ):
            known = [day for day in days if day is not None]
            if known:
                found[user_id] = min(known)
    return found
