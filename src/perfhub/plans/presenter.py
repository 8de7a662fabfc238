"""Planned sessions as a reader may see them: each with its adjustment (worded for the reader),
its decisions, its completion and the session as finally decided."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.core.db import one_of
from perfhub.plans.models import AdjustmentDecision, PlannedSession, SessionAdjustment
from perfhub.plans.rationale import rationale
from perfhub.plans.schemas import AdjustmentOut, DecisionOut, DiffOut, SessionOut
from perfhub.plans.service import final_plan
from perfhub.privacy.policy import Access
from perfhub.training.models import CompletedSession
from perfhub.training.queries import completions_of
from perfhub.training.schemas import CompletionOut


def sessions_between(session: Session, athlete_id: int, start: date, end: date) -> list[PlannedSession]:
    return list(
        session.scalars(
            select(PlannedSession)
            .where(
                PlannedSession.athlete_id == athlete_id,
                PlannedSession.date >= start,
                PlannedSession.date <= end,
            )
            .order_by(PlannedSession.date, PlannedSession.id)
        )
    )


def sessions_out(session: Session, access: Access, rows: Sequence[PlannedSession]) -> list[SessionOut]:
    """``rows`` with their adjustments, decisions and completions, read in three statements."""
    ids = [row.id for row in rows]
    dialect = session.get_bind().dialect.name
    adjustments: dict[int, SessionAdjustment] = {}
    decisions: dict[int, list[AdjustmentDecision]] = {}
    if ids:
        adjustments = {
            a.session_id: a
            for a in session.scalars(
                select(SessionAdjustment).where(one_of(SessionAdjustment.session_id, ids, dialect))
            )
        }
    if adjustments:
        by_adjustment = {a.id: a.session_id for a in adjustments.values()}
        for decision in session.scalars(
            select(AdjustmentDecision)
            .where(one_of(AdjustmentDecision.adjustment_id, list(by_adjustment), dialect))
            .order_by(AdjustmentDecision.at, AdjustmentDecision.id)
        ):
            decisions.setdefault(by_adjustment[decision.adjustment_id], []).append(decision)
    completions = completions_of(session, ids)
    return [
        session_out(access, row, adjustments.get(row.id), decisions.get(row.id, []), completions.get(row.id))
        for row in rows
    ]


def session_out(
    access: Access,
    row: PlannedSession,
    adjustment: SessionAdjustment | None,
    decisions: Sequence[AdjustmentDecision],
    completion: CompletedSession | None,
) -> SessionOut:
    return SessionOut(
        id=row.id,
        athlete_id=row.athlete_id,
        date=row.date,
        sport=row.sport,
        title=row.title,
        type=row.type,
        duration_min=row.duration_min,
        intensity=row.intensity,
        planned_load=row.planned_load,
        source=row.source,
        adjustment=None if adjustment is None else adjustment_out(access, adjustment, decisions),
        final=final_plan(row, adjustment),
        completed=None if completion is None else CompletionOut.of(completion),
    )


def adjustment_out(
    access: Access, adjustment: SessionAdjustment, decisions: Sequence[AdjustmentDecision]
) -> AdjustmentOut:
    worded = rationale(adjustment.rule, adjustment.reasons, adjustment.diff, access.granted)
    access.disclosed(worded.disclosed)
    return AdjustmentOut(
        session_id=adjustment.session_id,
        status=adjustment.status,
        rule=adjustment.rule,
        original=adjustment.original,
        adjusted=adjustment.adjusted,
        diff=[DiffOut(field=d["field"], from_=d["from"], to=d["to"]) for d in adjustment.diff],
        rationale=worded.text,
        drivers=worded.drivers,
        readiness=worded.readiness,
        band=worded.band,
        snapshot_date=adjustment.snapshot_date,
        updated_at=adjustment.updated_at,
        decisions=[
            DecisionOut(decision=d.decision, actor_id=d.actor_id, actor_role=d.actor_role, at=d.at)
            for d in decisions
        ],
    )
