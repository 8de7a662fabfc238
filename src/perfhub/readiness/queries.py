"""Reads of readiness snapshots and of whether an athlete has any readings at all; the
athletes' canonical readings loaded as engine input (:func:`load_athletes`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Connection, Executable, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import one_of
from perfhub.readiness.engine import ALGORITHM_VERSION, build_batch, compute_batch
from perfhub.readiness.engine.series import HRV_COLUMNS, SLEEP_COLUMNS, AthleteSeries, as_columns
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.readings.queries import source_priority


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


def no_score_reason(session: Session, user_id: int, row: ReadinessSnapshotRow | None) -> str:
    """Why there is no score: the snapshot's own reason, else whether any reading exists at all."""
    if row is not None and row.reason:
        return row.reason
    has_data = session.scalar(
        select(HrvDaily.id).where(HrvDaily.user_id == user_id).limit(1)
    ) or session.scalar(select(SleepDaily.id).where(SleepDaily.user_id == user_id).limit(1))
    return "no_recent_data" if has_data else "no_data"


def _by_user(rows: Sequence[Sequence[Any]], names: tuple[str, ...]) -> dict[int, dict[str, np.ndarray]]:
    """Rows of (user_id, *names) ordered by user, as each user's columns (views of one array)."""
    if not rows:
        return {}
    user_ids = np.array([row[0] for row in rows], dtype=np.int64)
    columns = as_columns(rows, names, skip=1)
    starts = np.flatnonzero(np.r_[True, user_ids[1:] != user_ids[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return {
        int(user_ids[begin]): {name: array[begin:end] for name, array in columns.items()}
        for begin, end in zip(starts.tolist(), ends.tolist(), strict=True)
    }


def _fetch(connection: Connection, statement: Executable) -> Sequence[Sequence[Any]]:
    """The driver's own row tuples: building SQLAlchemy rows costs twice the fetch itself here.

    No result processing happens, so dates come back as the driver has them (``date`` from
    psycopg, ISO text from sqlite3); :func:`as_columns` takes both.
    """
    result = connection.execute(statement)
    try:
        return cast(Sequence[Sequence[Any]], result.cursor.fetchall())
    finally:
        result.close()


def load_athletes(session: Session, users: Sequence[User]) -> list[AthleteSeries]:
    # Core rows fetched all at once and turned into columns chunk by chunk: this runs for every
    # athlete of every insights batch, so per-row Python work is kept to the minimum.
    connection = session.connection()
    dialect = connection.dialect.name
    hrv: dict[int, dict[str, np.ndarray]] = {}
    sleep: dict[int, dict[str, np.ndarray]] = {}
    ids = [user.id for user in users]
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        hrv_rows = _fetch(
            connection,
            select(
                HrvDaily.user_id,
                HrvDaily.date,
                HrvDaily.vendor,
                HrvDaily.rmssd_ms,
                HrvDaily.sdnn_ms,
                HrvDaily.resting_hr,
            )
            .where(one_of(HrvDaily.user_id, chunk, dialect))
            .order_by(HrvDaily.user_id, HrvDaily.date),
        )
        hrv.update(_by_user(hrv_rows, HRV_COLUMNS))
        sleep_rows = _fetch(
            connection,
            select(
                SleepDaily.user_id,
                SleepDaily.date,
                SleepDaily.vendor,
                SleepDaily.duration_min,
                SleepDaily.efficiency_pct,
                SleepDaily.latency_min,
                SleepDaily.wake_count,
            )
            .where(one_of(SleepDaily.user_id, chunk, dialect))
            .order_by(SleepDaily.user_id, SleepDaily.date),
        )
        sleep.update(_by_user(sleep_rows, SLEEP_COLUMNS))
    no_hrv, no_sleep = as_columns([], HRV_COLUMNS), as_columns([], SLEEP_COLUMNS)
    return [
        AthleteSeries(
            user_id=user.id,
            tz=user.tz,
            priority=source_priority(user),
            sleep_need_min=float(user.sleep_need_min or 480),
            hrv=hrv.get(user.id, no_hrv),
            sleep=sleep.get(user.id, no_sleep),
        )
        for user in users
    ]


@dataclass(frozen=True)
class HrvBaselineDay:
    """One day's HRV and resting HR beside the baselines readiness judges them against.

    ``ln_hrv`` is the night's reading from the day's primary HRV source (``is_sdnn`` when that
    source gives SDNN); ``ln7`` its 7-day mean and ``normal_low``..``normal_high`` the 60-day
    normal range (docs/readiness.md#normal-range); ``resting_hr_baseline`` the previous-60-day
    mean. ``None`` where the engine has no value (missing night, too few readings).
    """

    date: date
    ln_hrv: float | None
    is_sdnn: bool
    ln7: float | None
    normal_low: float | None
    normal_high: float | None
    resting_hr: float | None
    resting_hr_baseline: float | None


def _number(value: Any) -> float | None:
    number = float(value)
    return None if number != number else number  # NaN: no value


def hrv_baselines(session: Session, user: User, start: date, end: date) -> list[HrvBaselineDay]:
    """Every day of ``start..end`` with the numbers the readiness engine computes for it.

    The engine itself computes them (``compute_batch``), over a batch that begins at the
    athlete's first reading as a snapshot recompute does, so each day's primary source, segment
    and 60-day window are the ones its readiness snapshot stores as ``normalLow``/``normalHigh``
    and ``restingHrBaseline``; the range is never derived a second way.
    """
    (athlete,) = load_athletes(session, [user])
    first = athlete.first_day()
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    if first is None or first > end:
        return [HrvBaselineDay(day, None, False, None, None, None, None, None) for day in days]
    batch = build_batch([athlete], min(first, start), end)
    result = compute_batch(batch, workers=1)
    out = []
    for day in days:
        col = batch.day_index(day)
        out.append(
            HrvBaselineDay(
                date=day,
                ln_hrv=_number(batch.ln_hrv[0, col]),
                is_sdnn=bool(batch.hrv_is_sdnn[0, col]),
                ln7=_number(result.ln7[0, col]),
                normal_low=_number(result.normal_low[0, col]),
                normal_high=_number(result.normal_high[0, col]),
                resting_hr=_number(batch.resting_hr[0, col]),
                resting_hr_baseline=_number(result.rhr_baseline[0, col]),
            )
        )
    return out
