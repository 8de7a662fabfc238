"""Who a viewer may read, and which signals of each: the policy as one query over many athletes.

The rules (docs/architecture.md#privacy): an athlete reads all of their own data; a coach reads
an athlete through any team the coach runs, and the signals the athlete shares with any of
those teams (their union); an admin reads everyone. Everything else in :mod:`perfhub.privacy`
asks this module, so that a team page and a single athlete's page cannot disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, case, func, select, union
from sqlalchemy.orm import Session, aliased

from perfhub.auth.models import User
from perfhub.privacy.models import AuditEntry
from perfhub.teams.models import TeamCoach, TeamMembership
from perfhub.teams.schemas import SIGNALS

ALL_SIGNALS = frozenset(SIGNALS)


def readable_athletes(
    session: Session,
    viewer: User,
    team_id: int | None = None,
    *,
    athlete_ids: Collection[int] | None = None,
) -> dict[int, frozenset[str]]:
    """The people ``viewer`` may read, each with the signals granted, in one statement.

    A person is in the answer when the viewer may know they exist — the viewer themself, anyone
    for an admin, a member of a team the viewer coaches — even with no signal granted (a read
    of them is then forbidden rather than not found). ``team_id`` narrows the candidates to
    that team's members and ``athlete_ids`` to those ids; neither narrows the grants, which are
    always the union over every team the viewer coaches.

    The statement is read fresh on every call (a revoked share is obeyed by the next read);
    only its SQL is built once per shape.
    """
    role = viewer.role if viewer.role in ("coach", "admin") else "other"
    stmt = _statement(role, team_id is not None, athlete_ids is not None)
    params: dict[str, Any] = {"viewer": viewer.id, "team": team_id}
    if athlete_ids is not None:
        params["athletes"] = list(athlete_ids)
    # Pending changes first, as a query through the session would (autoflush); then the rows as
    # the driver has them: no ORM entity is loaded here.
    session.flush()
    rows = session.connection().execute(stmt, params)
    if role == "coach":
        viewer_id, granted = viewer.id, _granted
        return {row[0]: ALL_SIGNALS if row[0] == viewer_id else granted(tuple(row[1:])) for row in rows}
    return dict.fromkeys(rows.scalars(), ALL_SIGNALS)


@lru_cache(maxsize=16)
def _statement(role: str, by_team: bool, by_ids: bool) -> Select[*tuple[Any, ...]]:
    """The policy statement of one shape, its viewer, team and ids left as parameters: built
    once, so that a request pays neither for building it nor for compiling it again."""
    users = cast(Table, User.__table__)
    person = users.c.id
    if role == "coach":
        membership = cast(Table, TeamMembership.__table__)
        coaches = cast(Table, TeamCoach.__table__)
        coached = (
            select(membership)
            .join(coaches, coaches.c.team_id == membership.c.team_id)
            .where(coaches.c.coach_id == bindparam("viewer"))
            .subquery()
        )
        # An athlete in two of the coach's teams is one row: a signal is granted when any shares it.
        shared = [
            func.max(case((coached.c[f"share_{signal}"], 1), else_=0)).label(signal) for signal in SIGNALS
        ]
        stmt: Select[*tuple[Any, ...]] = (
            select(person, *shared)
            .select_from(users)
            .outerjoin(coached, coached.c.athlete_id == person)
            .where((person == bindparam("viewer")) | coached.c.id.is_not(None))
            .group_by(person)
        )
    else:
        stmt = select(person)
        if role != "admin":
            stmt = stmt.where(person == bindparam("viewer"))
    if by_ids:
        stmt = stmt.where(person.in_(bindparam("athletes", expanding=True)))
    if by_team:
        members = select(TeamMembership.__table__.c.athlete_id).where(
            TeamMembership.__table__.c.team_id == bindparam("team")
        )
        stmt = stmt.where(person.in_(members))
    return stmt.order_by(person)


@lru_cache(maxsize=256)
def _granted(flags: tuple[object, ...]) -> frozenset[str]:
    # Few combinations of flags exist (one per subset of the signals): each is read once.
    return frozenset(signal for signal, flag in zip(SIGNALS, flags, strict=True) if flag)


def grants_of(session: Session, viewer: User, subject: User) -> Mapping[int, frozenset[str]]:
    """:func:`readable_athletes` for one subject, with no statement where none is needed."""
    if viewer.id == subject.id or viewer.role == "admin":
        return {subject.id: ALL_SIGNALS}
    if viewer.role != "coach":
        return {}
    return readable_athletes(session, viewer, athlete_ids=[subject.id])


# --------------------------------------------------------------------------------------------
# The access log, as its readers may see it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRecord:
    """One access-log row with the name of whoever read (None: the account no longer exists)."""

    entry: AuditEntry
    actor_name: str | None


def audit_page(
    session: Session,
    viewer: User,
    *,
    limit: int,
    before: int | None = None,
    subject_id: int | None = None,
) -> list[AuditRecord]:
    """Up to ``limit`` access-log rows ``viewer`` may see, newest first, with ids below ``before``.

    An admin sees every row, erasure records included. Anyone else sees the reads of their own
    data and the reads they made themself (a coach's own trail), never an erasure record: on
    SQLite an erased person's id can be given to the next account, which must not inherit it.
    ``subject_id`` narrows within what the viewer may see. Ids only grow, so a page asked for
    with ``before`` is the same however many rows arrive meanwhile.
    """
    reads = AuditEntry.kind == "read"
    if viewer.role == "admin":
        arms = [_newest(limit, before, subject_id)]
    elif viewer.role == "athlete":  # athletes read nobody else's data
        arms = [_newest(limit, before, subject_id, reads, AuditEntry.subject_id == viewer.id)]
    else:
        # Two arms, each the newest rows of one person's index, rather than one OR: the planner
        # would walk the whole log backwards for a coach whose reads are few and old.
        arms = [
            _newest(limit, before, subject_id, reads, AuditEntry.subject_id == viewer.id),
            _newest(limit, before, subject_id, reads, AuditEntry.actor_id == viewer.id),
        ]
    # The few ids first, then their rows (an IN over the log would be a scan of the log).
    ids = (arms[0] if len(arms) == 1 else union(*(select(arm.subquery().c.id) for arm in arms))).subquery()
    actor = aliased(User)
    stmt = (
        select(AuditEntry, func.coalesce(func.nullif(actor.name, ""), actor.email))
        .select_from(ids)
        .join(AuditEntry, AuditEntry.id == ids.c.id)
        .outerjoin(actor, actor.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return [AuditRecord(entry, name) for entry, name in session.execute(stmt)]


def _newest(
    limit: int, before: int | None, subject_id: int | None, *where: ColumnElement[bool]
) -> Select[Any]:
    """The ids of the newest ``limit`` rows matching ``where``, below ``before``."""
    stmt = select(AuditEntry.id).where(*where)
    if subject_id is not None:
        stmt = stmt.where(AuditEntry.subject_id == subject_id)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    return stmt.order_by(AuditEntry.id.desc()).limit(limit)


def audit_trail_of(session: Session, person_id: int) -> Iterator[AuditRecord]:
    """Every read of ``person_id``'s data and every read they made, oldest first (their export)."""
    actor = aliased(User)
    stmt = (
        select(AuditEntry, func.coalesce(func.nullif(actor.name, ""), actor.email))
        .outerjoin(actor, actor.id == AuditEntry.actor_id)
        .where(
            AuditEntry.kind == "read",
            (AuditEntry.subject_id == person_id) | (AuditEntry.actor_id == person_id),
        )
        .order_by(AuditEntry.id)
        .execution_options(yield_per=500)
    )
    for entry, name in session.execute(stmt):
        yield AuditRecord(entry, name)
