"""A parsed plan file landed in an athlete's plan: new sessions created, imported ones updated.

A session read with a key (an iCalendar UID, or a CSV ``uid``) is found again by it when the
same file is imported again: it is brought in line with the file instead of planned twice, and
removed when the calendar now cancels it. Only the file's sessions are touched; nothing else of
the plan is changed or removed. Like every service this only flushes; the caller commits the
whole import at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.db import one_of
from perfhub.core.errors import Conflict, Unprocessable
from perfhub.plans import service
from perfhub.plans.importing import ParsedPlan, PlanItem, RowError
from perfhub.plans.models import PlannedSession
from perfhub.plans.schemas import SessionFields, SessionUpdate

Progress = Callable[[int, int], None]
# What an import says when it lost the race for its sessions' UIDs to concurrent imports of the
# same file every time it ran (it runs again after each loss: core.db.retry_on_conflict).
RACE_LOST = "another import of these sessions kept landing at the same time: send the file again"


@dataclass
class ImportCount:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    removed: int = 0
    errors: list[RowError] = field(default_factory=list)
    kept: int = 0  # of the errors: cancelled sessions that stay (their adjustment was decided)

    @property
    def landed(self) -> int:
        return self.created + self.updated + self.unchanged

    def to_json(self, fmt: str, *, dry_run: bool) -> dict[str, Any]:
        """What the API answers and the CLI prints."""
        return {
            "format": fmt,
            "dryRun": dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "removed": self.removed,
            "errors": [
                {"row": e.row, "uid": e.uid, "field": e.field, "message": e.message} for e in self.errors
            ],
        }

    def refusal(self) -> Unprocessable | None:
        """The 422 of a file of which no session could be imported (None: some could). A file
        holding only cancelled events is fine: there is simply nothing to plan, or only sessions
        to remove."""
        if self.landed or self.removed or (self.skipped and len(self.errors) == self.kept):
            return None
        if not self.errors:
            return Unprocessable(
                "the file holds no session to import (a recurring event is expanded from today on)",
                [{"loc": ["body"], "msg": "no sessions"}],
            )
        first = self.errors[0]
        where = ", ".join(part for part in (_where(first), first.field) if part)
        plural = "s" if len(self.errors) > 1 else ""
        return Unprocessable(
            f"no row of the file could be imported ({len(self.errors)} error{plural}; "
            f"the first: {where}: {first.message})",
            [
                {
                    "loc": ["body", *[part for part in (e.row or e.uid, e.field) if part]],
                    "msg": e.message,
                    "row": e.row,
                    "uid": e.uid,
                    "field": e.field,
                }
                for e in self.errors
            ],
        )


def _where(error: RowError) -> str:
    if error.row is not None:
        return f"row {error.row}"
    return f"event {error.uid}" if error.uid else "an event"


def import_sessions(
    session: Session,
    actor: User | None,
    athlete: User,
    plan: ParsedPlan,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportCount:
    """Create or update the sessions of ``plan`` for ``athlete`` (the policy has let ``actor``
    plan for them; None: an operator at the command line). ``dry_run`` counts the same and
    writes nothing. A session whose adjustment was already accepted or reverted keeps its plan:
    that row becomes an error, as it does through PATCH."""
    count = ImportCount(skipped=plan.skipped, errors=list(plan.errors))
    stored = _stored(session, athlete.id, [item.uid for item in plan.sessions if item.uid])
    created_days = set()
    for done, item in enumerate(plan.sessions, start=1):
        row = stored.get(item.uid) if item.uid else None
        if row is None:
            if not dry_run:
                _create(session, actor, athlete, item, plan.format)
                created_days.add(item.fields.date)
            count.created += 1
        elif _same(row, item.fields):
            count.unchanged += 1
        elif dry_run:
            if (adjustment := service.adjustment_of(session, row.id)) and adjustment.status != "proposed":
                count.errors.append(_kept(item, f"its adjustment was {adjustment.status}"))
            else:
                count.updated += 1
        else:
            try:
                service.update_session(session, row, _changes(item.fields))
            except Conflict as exc:
                count.errors.append(_kept(item, exc.detail))
            else:
                count.updated += 1
        if progress is not None:
            progress(done, len(plan.sessions))
    count.removed = _remove_cancelled(session, athlete, plan, count, dry_run=dry_run)
    # The new sessions' proposals in one pass rather than one per row.
    service.refresh_proposals(session, {athlete.id: created_days})
    service.rematch_workouts(session, athlete.id, created_days)
    count.errors.sort(key=lambda e: (e.row is None, e.row or 0))
    return count


def _remove_cancelled(
    session: Session, athlete: User, plan: ParsedPlan, count: ImportCount, *, dry_run: bool
) -> int:
    """Remove the sessions an earlier import of the calendar made of events it now cancels. One
    whose adjustment was accepted or reverted stays, as it would stay unchanged, and is listed."""
    removed = 0
    stored = _stored(session, athlete.id, plan.cancelled)
    for uid in plan.cancelled:
        row = stored.get(uid)
        if row is None or row.source != "ics":
            continue
        if (adjustment := service.adjustment_of(session, row.id)) and adjustment.status != "proposed":
            why = f"cancelled in the calendar, but its adjustment was {adjustment.status}: it stays planned"
            count.errors.append(RowError(None, uid, None, why))
            count.kept += 1
            continue
        if not dry_run:
            service.delete_session(session, row)
        removed += 1
    return removed


def _stored(session: Session, athlete_id: int, uids: list[str]) -> dict[str, PlannedSession]:
    if not uids:
        return {}
    found: dict[str, PlannedSession] = {}
    dialect = session.get_bind().dialect.name
    # In slices: SQLite caps the number of parameters of one statement.
    for start in range(0, len(uids), 500):
        rows = session.scalars(
            select(PlannedSession).where(
                PlannedSession.athlete_id == athlete_id,
                one_of(PlannedSession.external_uid, uids[start : start + 500], dialect),
            )
        )
        found.update({row.external_uid: row for row in rows if row.external_uid is not None})
    return found


def _create(session: Session, actor: User | None, athlete: User, item: PlanItem, source: str) -> None:
    row = service.create_session(
        session,
        actor or athlete,
        athlete,
        item.fields,
        source=source,
        external_uid=item.uid,
        propose_now=False,
    )
    if actor is None:
        row.created_by_id = None  # made at the command line, by no person of the app
    session.flush()


def _values(fields: SessionFields) -> dict[str, Any]:
    return {
        "date": fields.date,
        "sport": fields.sport,
        "title": fields.title,
        "type": fields.type,
        "duration_min": fields.duration_min,
        "intensity": None if fields.intensity is None else fields.intensity.model_dump(),
        "planned_load": fields.planned_load,
    }


def _same(row: PlannedSession, fields: SessionFields) -> bool:
    return all(getattr(row, name) == value for name, value in _values(fields).items())


def _changes(fields: SessionFields) -> SessionUpdate:
    # Every field, so that a value the file no longer gives (an intensity, a load) goes too.
    return SessionUpdate.model_validate(
        {
            "date": fields.date,
            "sport": fields.sport,
            "title": fields.title,
            "type": fields.type,
            "durationMin": fields.duration_min,
            "intensity": fields.intensity,
            "plannedLoad": fields.planned_load,
        }
    )


def _kept(item: PlanItem, why: str) -> RowError:
    return RowError(item.row, item.uid, None, f"already imported and not changed: {why}")
