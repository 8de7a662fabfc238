"""Planned sessions, their readiness-guided adjustments and the decisions taken on them.

Services never commit: the request or the pipeline's job does. Who may act is decided by the
privacy policy (the ``training`` signal, through :mod:`perfhub.privacy.deps`) before a function
here is called with the session it acts on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import local_today
from perfhub.core.db import one_of, utcnow
from perfhub.core.errors import Conflict, NotFound
from perfhub.plans.adjust import LoadFacts, Plan, ReadinessFacts, basis_hash, propose
from perfhub.plans.models import AdjustmentDecision, PlannedSession, SessionAdjustment
from perfhub.plans.schemas import SessionFields, SessionUpdate
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import Workout
from perfhub.training.load import load_series
from perfhub.training.models import CompletedSession
from perfhub.training.queries import daily_loads
from perfhub.training.service import announce_load_change

__all__ = [
    "create_session",
    "decide",
    "delete_session",
    "plan_of",
    "refresh_proposals",
    "rematch_workouts",
    "session_owner",
    "update_session",
]


def session_owner(session: Session, session_id: int) -> int | None:
    """The athlete a planned session belongs to (None: no such session)."""
    return session.scalar(select(PlannedSession.athlete_id).where(PlannedSession.id == session_id))


def plan_of(row: PlannedSession) -> Plan:
    return Plan(row.type, row.duration_min, row.intensity, row.planned_load)


def create_session(
    session: Session,
    actor: User,
    athlete: User,
    fields: SessionFields,
    *,
    source: str = "manual",
    external_uid: str | None = None,
    propose_now: bool = True,
) -> PlannedSession:
    """Plan a session for ``athlete`` (the policy has let ``actor`` do so), and propose its
    adjustment at once when its day already has a readiness snapshot (``propose_now``; an import
    of many sessions proposes once for all of them with :func:`refresh_proposals`)."""
    row = PlannedSession(
        athlete_id=athlete.id,
        date=fields.date,
        sport=fields.sport,
        title=fields.title,
        type=fields.type,
        duration_min=fields.duration_min,
        intensity=None if fields.intensity is None else fields.intensity.model_dump(),
        planned_load=fields.planned_load,
        source=source,
        external_uid=external_uid,
        created_by_id=actor.id,
    )
    session.add(row)
    session.flush()
    if propose_now:
        refresh_proposals(session, {athlete.id: [row.date]})
        rematch_workouts(session, athlete.id, [row.date])
    return row


def rematch_workouts(session: Session, athlete_id: int, days: Collection[date]) -> None:
    """A plan made or moved onto days a wearable recorded workouts on: have the pipeline match
    them again (a workout that came before its plan was kept as an unplanned session)."""
    if not days:
        return
    recorded = session.scalars(
        select(Workout.date)
        .where(
            Workout.user_id == athlete_id,
            one_of(Workout.date, sorted(set(days)), session.get_bind().dialect.name),
        )
        .distinct()
    ).all()
    announce_load_change(session, athlete_id, list(recorded))


def update_session(session: Session, row: PlannedSession, changes: SessionUpdate) -> PlannedSession:
    """Change a session's fields. A proposal still open is made again for the new plan; a
    session whose adjustment was decided keeps its plan (409): the decision was about it."""
    adjustment = adjustment_of(session, row.id)
    if adjustment is not None and adjustment.status != "proposed":
        raise Conflict(
            f"the adjustment of session {row.id} was {adjustment.status}; its plan no longer changes "
            "(delete the session and plan a new one)"
        )
    given = changes.model_dump(exclude_unset=True)
    if "intensity" in given and changes.intensity is not None:
        given["intensity"] = changes.intensity.model_dump()
    merged = SessionFields.model_validate(
        {
            "date": given.get("date", row.date),
            "sport": given.get("sport", row.sport),
            "title": given.get("title", row.title),
            "type": given.get("type", row.type),
            "durationMin": given.get("duration_min", row.duration_min),
            "intensity": given.get("intensity", row.intensity),
            "plannedLoad": given.get("planned_load", row.planned_load),
        }
    )
    before = row.date
    row.date, row.sport, row.title, row.type = merged.date, merged.sport, merged.title, merged.type
    row.duration_min = merged.duration_min
    row.intensity = None if merged.intensity is None else merged.intensity.model_dump()
    row.planned_load = merged.planned_load
    row.updated_at = utcnow()
    if adjustment is not None:
        session.delete(adjustment)
    session.flush()
    refresh_proposals(session, {row.athlete_id: [row.date, before]})
    if row.date != before:
        rematch_workouts(session, row.athlete_id, [row.date, before])
    return row


def delete_session(session: Session, row: PlannedSession) -> None:
    """Remove a planned session with its adjustment and decisions. A completion of it stays as
    an unplanned session: the training happened."""
    session.delete(row)
    session.flush()


def adjustment_of(session: Session, session_id: int) -> SessionAdjustment | None:
    return session.scalar(select(SessionAdjustment).where(SessionAdjustment.session_id == session_id))


def decide(session: Session, actor: User, row: PlannedSession, decision: str) -> SessionAdjustment:
    """Accept or revert the adjustment of ``row``. Saying the same twice records it once."""
    adjustment = adjustment_of(session, row.id)
    if adjustment is None:
        raise NotFound(f"session {row.id} has no adjustment")
    if adjustment.status == decision:
        return adjustment
    now = utcnow()
    adjustment.status = decision
    adjustment.decided_at = now
    adjustment.decided_by_id = actor.id
    session.add(
        AdjustmentDecision(
            adjustment_id=adjustment.id, decision=decision, actor_id=actor.id, actor_role=actor.role, at=now
        )
    )
    session.flush()
    return adjustment


def final_plan(row: PlannedSession, adjustment: SessionAdjustment | None) -> dict[str, Any]:
    """The session as finally decided: the adjusted fields once accepted, else the plan."""
    if adjustment is not None and adjustment.status == "accepted":
        return dict(adjustment.adjusted)
    return plan_of(row).fields()


# --------------------------------------------------------------------------------------------
# Proposals: made and remade from readiness snapshots and training load
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshCount:
    proposed: int = 0
    updated: int = 0
    withdrawn: int = 0


def refresh_proposals(session: Session, days: Mapping[int, Iterable[date]]) -> RefreshCount:
    """(Re)make the proposals of the sessions of ``days`` (athlete → dates whose readiness
    changed). Only sessions from each athlete's local today on are adjusted, never a decided or
    completed one; an open proposal is rewritten when what it rests on changed, and withdrawn
    when the plan now stands. Everything is read in a handful of statements, whatever the
    number of athletes."""
    wanted = {athlete: set(dates) for athlete, dates in days.items() if dates}
    if not wanted:
        return RefreshCount()
    dialect = session.get_bind().dialect.name
    # The sessions first: most athletes have none on a day whose readiness changed, and then
    # this one statement is all the work.
    low = min(min(dates) for dates in wanted.values())
    high = max(max(dates) for dates in wanted.values())
    candidates = [
        row
        for row in session.scalars(
            select(PlannedSession).where(
                one_of(PlannedSession.athlete_id, list(wanted), dialect),
                PlannedSession.date >= low,
                PlannedSession.date <= high,
            )
        )
        if row.date in wanted[row.athlete_id]
    ]
    if not candidates:
        return RefreshCount()
    owners = {row.athlete_id for row in candidates}
    zones = dict(
        session.execute(select(User.id, User.tz).where(one_of(User.id, list(owners), dialect))).all()
    )
    todays = {athlete: local_today(tz) for athlete, tz in zones.items()}
    sessions = [row for row in candidates if row.athlete_id in todays and row.date >= todays[row.athlete_id]]
    if not sessions:
        return RefreshCount()
    wanted = {athlete: {row.date for row in sessions if row.athlete_id == athlete} for athlete in owners}
    wanted = {athlete: dates for athlete, dates in wanted.items() if dates}
    low = min(row.date for row in sessions)
    high = max(row.date for row in sessions)
    ids = [row.id for row in sessions]
    adjustments = {
        a.session_id: a
        for a in session.scalars(
            select(SessionAdjustment).where(one_of(SessionAdjustment.session_id, ids, dialect))
        )
    }
    completed = _completed(session, ids)
    snapshots = _snapshots(session, wanted, low, high)
    loads = daily_loads(session, list(wanted), until=high)
    counts = {"proposed": 0, "updated": 0, "withdrawn": 0}
    for row in sessions:
        held = adjustments.get(row.id)
        if (held is not None and held.status != "proposed") or row.id in completed:
            continue
        snapshot = snapshots.get((row.athlete_id, row.date))
        if snapshot is None:
            continue
        outcome = _refresh_one(
            session, row, held, snapshot, _load_facts(loads.get(row.athlete_id, {}), row.date)
        )
        if outcome:
            counts[outcome] += 1
    session.flush()
    return RefreshCount(**counts)


def _refresh_one(
    session: Session,
    row: PlannedSession,
    held: SessionAdjustment | None,
    snapshot: ReadinessSnapshotRow,
    load: LoadFacts,
) -> str | None:
    readiness = ReadinessFacts(
        snapshot.score, snapshot.band, tuple(snapshot.flags or ()), snapshot.drivers or ()
    )
    plan = plan_of(row)
    proposal = propose(plan, readiness, load)
    if proposal is None:
        if held is None:
            return None
        session.delete(held)
        return "withdrawn"
    basis = basis_hash(plan, readiness, load, snapshot.inputs_hash)
    if held is not None and held.basis_hash == basis:
        return None
    target = held or SessionAdjustment(session_id=row.id, athlete_id=row.athlete_id, status="proposed")
    target.rule = proposal.rule
    target.original, target.adjusted, target.diff = proposal.original, proposal.adjusted, proposal.diff
    target.reasons = proposal.reasons
    target.readiness = snapshot.score
    target.band = snapshot.band
    target.snapshot_date = snapshot.date
    target.algorithm_version = snapshot.algorithm_version
    target.basis_hash = basis
    target.updated_at = utcnow()
    if held is None:
        session.add(target)
        return "proposed"
    return "updated"


def _load_facts(daily: Mapping[date, float], day: date) -> LoadFacts:
    # The load as it stood the evening before: the session's own day is not done yet.
    before = day - timedelta(days=1)
    (state,) = load_series(daily, before, before)
    return LoadFacts(state.tsb, state.acwr, state.atl, state.ctl)


def _snapshots(
    session: Session, wanted: Mapping[int, Collection[date]], low: date, high: date
) -> dict[tuple[int, date], ReadinessSnapshotRow]:
    rows = session.scalars(
        select(ReadinessSnapshotRow).where(
            one_of(ReadinessSnapshotRow.user_id, list(wanted), session.get_bind().dialect.name),
            ReadinessSnapshotRow.algorithm_version == ALGORITHM_VERSION,
            ReadinessSnapshotRow.date >= low,
            ReadinessSnapshotRow.date <= high,
        )
    )
    return {(r.user_id, r.date): r for r in rows if r.date in wanted[r.user_id]}


def _completed(session: Session, planned_ids: Sequence[int]) -> set[int]:
    return set(
        session.scalars(
            select(CompletedSession.planned_session_id).where(
                one_of(
                    CompletedSession.planned_session_id, list(planned_ids), session.get_bind().dialect.name
                )
            )
        )
    )
