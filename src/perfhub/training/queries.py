"""Reads of completed sessions: daily loads for many athletes at once, and one athlete's list."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from perfhub.core.db import one_of
from perfhub.training.models import CompletedSession


def daily_loads(
    session: Session, athlete_ids: Collection[int], until: date | None = None
) -> dict[int, dict[date, float]]:
    """Each athlete's load per day with sessions (up to ``until``), in one statement."""
    if not athlete_ids:
        return {}
    stmt = (
        select(CompletedSession.athlete_id, CompletedSession.date, func.sum(CompletedSession.load))
        .where(one_of(CompletedSession.athlete_id, list(athlete_ids), session.get_bind().dialect.name))
        .group_by(CompletedSession.athlete_id, CompletedSession.date)
    )
    if until is not None:
        stmt = stmt.where(CompletedSession.date <= until)
    loads: dict[int, dict[date, float]] = {}
    for athlete_id, day, load in session.execute(stmt):
        loads.setdefault(athlete_id, {})[day] = float(load or 0.0)
    return loads


def completed_between(
    session: Session, athlete_id: int, start: date, end: date
) -> Sequence[CompletedSession]:
    return session.scalars(
        select(CompletedSession)
        .where(
            CompletedSession.athlete_id == athlete_id,
            CompletedSession.date >= start,
            CompletedSession.date <= end,
        )
        .order_by(CompletedSession.date, CompletedSession.id)
    ).all()


def completions_of(session: Session, planned_ids: Collection[int]) -> dict[int, CompletedSession]:
    """The completion of each planned session that has one."""
    if not planned_ids:
        return {}
    rows = session.scalars(
        select(CompletedSession).where(
            one_of(CompletedSession.planned_session_id, list(planned_ids), session.get_bind().dialect.name)
        )
    )
    return {row.planned_session_id: row for row in rows if row.planned_session_id is not None}
