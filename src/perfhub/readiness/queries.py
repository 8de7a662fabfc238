"""Reads of readiness snapshots and of whether an athlete has any readings at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, SleepDaily


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
