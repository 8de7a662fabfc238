"""Recording completed sessions. Services never commit: the request or job boundary does.

Every change of a day's load announces ``data.normalized`` with the ``training`` signal, so the
readiness of that day and the days after is recomputed by the pipeline, as for new readings.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import utcnow
from perfhub.pipeline.events import DataNormalized, publish
from perfhub.training.load import session_load
from perfhub.training.models import CompletedSession

TRAINING = "training"


def announce_load_change(session: Session, athlete_id: int, days: list[date]) -> None:
    """Ask for readiness from the earliest of ``days`` on: its load contributor changed."""
    if days:
        publish(session, DataNormalized(athlete_id, (TRAINING,), tuple(sorted(set(days)))))


def record_unplanned(
    session: Session,
    athlete: User,
    actor: User,
    day: date,
    sport: str,
    duration_min: float,
    rpe: float,
) -> CompletedSession:
    """A session the athlete did without a plan (entered by hand)."""
    row = CompletedSession(
        athlete_id=athlete.id,
        date=day,
        sport=sport,
        duration_min=duration_min,
        rpe=rpe,
        rpe_estimated=False,
        load=session_load(rpe, duration_min),
        source="manual",
        entered_by_id=actor.id,
    )
    session.add(row)
    session.flush()
    announce_load_change(session, athlete.id, [day])
    return row


def record_planned(
    session: Session,
    athlete_id: int,
    actor: User,
    planned_session_id: int,
    day: date,
    sport: str,
    duration_min: float,
    rpe: float,
) -> CompletedSession:
    """Complete a planned session, or correct its completion: a planned session is completed
    once, so saying it again (or a watch having recorded it already) updates the one row. The
    athlete's own RPE replaces an estimate."""
    row = session.scalar(
        select(CompletedSession).where(CompletedSession.planned_session_id == planned_session_id)
    )
    moved = [] if row is None or row.date == day else [row.date]
    if row is None:
        row = CompletedSession(athlete_id=athlete_id, planned_session_id=planned_session_id, source="manual")
        session.add(row)
    row.date, row.sport = day, sport
    row.duration_min, row.rpe, row.rpe_estimated = duration_min, rpe, False
    row.load = session_load(rpe, duration_min)
    row.entered_by_id = actor.id
    row.updated_at = utcnow()
    session.flush()
    announce_load_change(session, athlete_id, [day, *moved])
    return row


def delete_completion(session: Session, row: CompletedSession) -> None:
    day, athlete_id = row.date, row.athlete_id
    session.delete(row)
    session.flush()
    announce_load_change(session, athlete_id, [day])
