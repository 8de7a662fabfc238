"""The one policy every read path asks, and the audit trail it leaves.

An athlete reads all of their own data. A coach reads an athlete only through a team the
coach runs, and only the signals that athlete shares with that team. An admin reads all.
Every read by someone other than the athlete is written to the audit log, naming the signals
the response actually discloses.

A read is two steps, both here: :func:`authorize_read` decides whether the read may happen at
all (404/403) and opens its audit row with the signal the path is about; the ``disclose_*``
functions then cut the response down to what the granted signals allow (the decisions are the
pure functions of :mod:`perfhub.privacy.disclosure`) and add to that audit row every further
signal whose values they let through.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import Table, bindparam, exists, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from perfhub.auth.models import User
from perfhub.core.dates import DateRange, date_range, local_today
from perfhub.core.db import UTCDateTime, utcnow
from perfhub.core.errors import Forbidden, NotFound
from perfhub.core.upsert import insert_rows
from perfhub.privacy.disclosure import (
    Detail,
    RowPolicy,
    alert_discloses,
    alert_visible,
    ordered,
    redact_components,
    redact_driver,
    redact_row,
)
from perfhub.privacy.models import AuditEntry
from perfhub.privacy.queries import grants_of, readable_athletes
from perfhub.teams.models import Team, TeamCoach, TeamMembership
from perfhub.teams.schemas import SIGNALS

V = TypeVar("V")
T = TypeVar("T")


@dataclass(frozen=True)
class Access:
    """What ``viewer`` may read of ``subject``.

    ``signals`` are the wanted signals the viewer holds (what the read was authorised for);
    ``granted`` is everything the viewer may read of the subject, which decides how much of a
    mixed response (a readiness driver naming an HRV value) is shown. ``audit`` is the read's
    audit row, None when the athlete reads their own data.
    """

    viewer: User
    subject: User
    signals: frozenset[str]
    granted: frozenset[str] = frozenset()
    audit: AuditEntry | None = field(default=None, compare=False)

    @property
    def is_self(self) -> bool:
        return self.viewer.id == self.subject.id

    def hidden(self, wanted: Iterable[str] = SIGNALS) -> list[str]:
        return [signal for signal in wanted if signal not in self.signals]

    def withheld(self) -> list[str]:
        """Signals the viewer may not read at all, in canonical order (empty for the athlete)."""
        return [signal for signal in SIGNALS if signal not in self.granted]

    def disclosed(self, signals: Iterable[str]) -> None:
        """Record that the response carries values of ``signals`` (widens the audit row)."""
        if self.audit is None:
            return
        merged = ordered(set(self.audit.signals) | set(signals))
        if merged != list(self.audit.signals):
            # A new list, not an in-place append: the JSON column only notices assignment.
            self.audit.signals = merged


def readable_signals(session: Session, viewer: User, subject: User) -> frozenset[str]:
    """Every signal ``viewer`` may read of ``subject`` (one case of
    :func:`perfhub.privacy.queries.readable_athletes`)."""
    return grants_of(session, viewer, subject).get(subject.id, frozenset())


def is_related(session: Session, viewer: User, subject: User) -> bool:
    """Whether the viewer may know the subject exists (self, admin, or the subject's coach)."""
    return subject.id in grants_of(session, viewer, subject)


def authorize_read(
    session: Session,
    viewer: User,
    subject_id: int,
    signals: Iterable[str],
    path: str,
    *,
    partial: bool = False,
) -> Access:
    """Decide a read of ``signals`` of ``subject_id`` by ``viewer`` and audit it.

    Unknown or unrelated subjects are 404 (their existence is not disclosed); a related
    subject who does not share a wanted signal is 403, unless ``partial`` reads are
    allowed, in which case the caller renders the unshared signals as hidden.
    """
    wanted = list(dict.fromkeys(signals))
    subject = session.get(User, subject_id)
    grants = {} if subject is None else grants_of(session, viewer, subject)
    if subject is None or subject.id not in grants:
        raise NotFound(f"no athlete with id {subject_id}")
    allowed = grants[subject.id]
    granted = [signal for signal in wanted if signal in allowed]
    if not partial and len(granted) < len(wanted):
        missing = ", ".join(signal for signal in wanted if signal not in allowed)
        raise Forbidden(f"athlete {subject_id} does not share {missing} with you")
    entry: AuditEntry | None = None
    if viewer.id != subject.id and granted:
        entry = AuditEntry(
            actor_id=viewer.id,
            actor_role=viewer.role,
            subject_id=subject.id,
            signals=ordered(granted),
            path=path,
        )
        session.add(entry)
    return Access(viewer=viewer, subject=subject, signals=frozenset(granted), granted=allowed, audit=entry)


def authorize_range_read(
    session: Session,
    viewer: User,
    subject_id: int | None,
    signals: Iterable[str],
    path: str,
    raw_from: str | None,
    raw_to: str | None,
) -> tuple[Access, DateRange]:
    """:func:`authorize_read` plus the validated date range in the subject's own calendar."""
    access = authorize_read(session, viewer, subject_id or viewer.id, signals, path)
    return access, date_range(raw_from, raw_to, local_today(access.subject.tz))


# --------------------------------------------------------------------------------------------
# Disclosure: the response cut down to the granted signals, and the audit row told what is left
# --------------------------------------------------------------------------------------------


def disclose_rows(
    access: Access, policy: RowPolicy, rows: Iterable[Mapping[str, V]]
) -> list[dict[str, V | None]]:
    """Daily rows with the fields of ungranted signals emptied (see :func:`redact_row`)."""
    out: list[dict[str, V | None]] = []
    disclosed: set[str] = set()
    for row in rows:
        shown, signals = redact_row(access.granted, policy, row)
        out.append(shown)
        disclosed |= signals
    access.disclosed(disclosed)
    return out


@dataclass(frozen=True)
class ShownDriver:
    """A readiness driver as the viewer may see it: in full, or in words only (``Detail.PLAIN``)."""

    detail: Detail
    fact: dict[str, Any]


@dataclass(frozen=True)
class ReadinessDisclosure:
    drivers: list[ShownDriver]
    components: list[dict[str, Any]]
    withheld: list[str]  # signals the viewer may not read, whose numbers were left out


def disclose_readiness(
    access: Access, drivers: Iterable[Mapping[str, Any]], components: Iterable[Mapping[str, Any]]
) -> ReadinessDisclosure:
    """One readiness snapshot's drivers and contributor scores as the viewer may see them."""
    disclosed: set[str] = set()
    shown: list[ShownDriver] = []
    for stored in drivers:
        detail, fact, signals = redact_driver(access.granted, stored)
        if fact is not None:
            shown.append(ShownDriver(detail, fact))
            disclosed |= signals
    visible, signals = redact_components(access.granted, components)
    access.disclosed(disclosed | signals)
    return ReadinessDisclosure(shown, visible, access.withheld())


def disclose_alerts(access: Access, alerts: Iterable[T], kind: Callable[[T], str]) -> list[T]:
    """The alerts whose kind the viewer may see; what the shown ones disclose is recorded."""
    shown = [alert for alert in alerts if alert_visible(access.granted, kind(alert))]
    access.disclosed(set().union(*(alert_discloses(kind(alert)) for alert in shown)))
    return shown


# --------------------------------------------------------------------------------------------
# Flags: what a stored flag code gives away
# --------------------------------------------------------------------------------------------

# Flags are the drivers' conditions as codes, so they follow the drivers' rule
# (docs/architecture.md#privacy): they travel with ``readiness``, like a driver in words —
# "HRV below range" names no number. ``sleep_debt`` is the exception, as its driver is: the code
# alone says the debt is at least moderate, a value of ``sleep``, so it needs ``sleep`` too.
# A code missing here is shown only to a viewer who may see every signal (fails closed).
FLAG_SIGNALS: Mapping[str, frozenset[str]] = {
    "illness": frozenset({"readiness"}),
    "hrv_below_range": frozenset({"readiness"}),
    "hrv_unusually_high": frozenset({"readiness"}),
    "overreaching": frozenset({"readiness"}),
    "sleep_debt": frozenset({"readiness", "sleep"}),
    "load_spike": frozenset({"readiness"}),
    "stale": frozenset({"readiness"}),
    "calibrating": frozenset({"readiness"}),
    "no_recent_data": frozenset({"readiness"}),
}


def flag_signals(code: str) -> frozenset[str]:
    """The signals a flag discloses (all of them for a code the table does not know)."""
    return FLAG_SIGNALS.get(code, frozenset(SIGNALS))


def visible_flags(granted: Iterable[str], codes: Iterable[str]) -> tuple[list[str], frozenset[str]]:
    """The flags a viewer granted ``granted`` may see, in their stored order, and what they disclose."""
    allowed = frozenset(granted)
    shown = [code for code in codes if flag_signals(code) <= allowed]
    return shown, frozenset().union(*(flag_signals(code) for code in shown))


def disclose_flags(access: Access, codes: Iterable[str]) -> list[str]:
    """A snapshot's stored flags cut to what ``access`` grants; the audit row is told what is left."""
    shown, disclosed = visible_flags(access.granted, codes)
    access.disclosed(disclosed)
    return shown


# --------------------------------------------------------------------------------------------
# Team reads: a whole team decided in one statement, audited in one statement
# --------------------------------------------------------------------------------------------

TeamRelation = Literal["coach", "admin", "member"]


def team_relation(session: Session, viewer: User, team_id: int) -> TeamRelation | None:
    """What ``viewer`` is to the team: its coach, an admin, a member; None when they may not know
    it exists (or it does not)."""
    is_coach = exists().where(TeamCoach.team_id == Team.id, TeamCoach.coach_id == viewer.id)
    is_member = exists().where(TeamMembership.team_id == Team.id, TeamMembership.athlete_id == viewer.id)
    row = session.execute(select(is_coach, is_member).where(Team.id == team_id)).first()
    if row is None:
        return None
    coach, member = row
    if coach:
        return "coach"
    if viewer.role == "admin":
        return "admin"
    return "member" if member else None


@dataclass(frozen=True)
class TeamAccess:
    """What ``viewer`` may read of each member of a team: ``grants`` maps every member the viewer
    may know of to the signals granted (possibly none), from one policy statement."""

    viewer: User
    team_id: int
    grants: Mapping[int, frozenset[str]]
    path: str

    def granted(self, athlete_id: int) -> frozenset[str]:
        return self.grants.get(athlete_id, frozenset())


def authorize_team_read(session: Session, viewer: User, team_id: int, path: str) -> TeamAccess:
    """Decide a read of a whole team's data: its coaches and admins only.

    A team the viewer has no part in is 404, as one that does not exist; an athlete of the team
    knows it exists but may not read their teammates, so 403. Every member's grants come from
    one call to :func:`readable_athletes`; nothing is audited yet — the caller knows what it
    disclosed only once it has read, and writes it with :func:`audit_team_read`.
    """
    relation = team_relation(session, viewer, team_id)
    if relation is None:
        raise NotFound(f"no team with id {team_id}")
    if relation == "member":
        raise Forbidden("only the team's coaches read its members' data")
    return TeamAccess(viewer, team_id, readable_athletes(session, viewer, team_id), path)


def authorize_team_member_read(
    session: Session, viewer: User, team_id: int, athlete_id: int, signals: Iterable[str], path: str
) -> Access:
    """Decide a read of one member of a team, through that team, and audit it.

    The team's coaches and admins read any member (the signals granted; the others are left to
    the caller to show as hidden); an athlete of the team reads only themself (unaudited).
    Anyone else, or an athlete who is not a member of this team, is 404.
    """
    if team_relation(session, viewer, team_id) is None:
        raise NotFound(f"no team with id {team_id}")
    grants = readable_athletes(session, viewer, team_id, athlete_ids=[athlete_id])
    subject = session.get(User, athlete_id) if athlete_id in grants else None
    if subject is None:
        raise NotFound(f"no athlete {athlete_id} in team {team_id}")
    allowed = grants[athlete_id]
    granted = [signal for signal in dict.fromkeys(signals) if signal in allowed]
    entry: AuditEntry | None = None
    if viewer.id != subject.id and granted:
        entry = AuditEntry(
            actor_id=viewer.id,
            actor_role=viewer.role,
            subject_id=subject.id,
            signals=ordered(granted),
            path=path,
        )
        session.add(entry)
    return Access(viewer=viewer, subject=subject, signals=frozenset(granted), granted=allowed, audit=entry)


def audit_team_read(
    session: Session, viewer: User, disclosed: Mapping[int, Collection[str]], path: str
) -> int:
    """One audit row per athlete whose ``disclosed`` signals a team read let through, in ONE
    INSERT statement, in the caller's transaction. The viewer's own data and athletes nothing
    was disclosed of leave no row. Returns how many rows were written."""
    at = utcnow()
    subjects = [
        (athlete_id, _ordered_once(frozenset(signals)))
        for athlete_id, signals in sorted(disclosed.items())
        if athlete_id != viewer.id and signals
    ]
    if not subjects:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # The rows differ only in subject and signals: those travel as one JSON document, the
        # rest once, so a team's 200 rows cost one dump of a list rather than seven arrays
        # dumped element by element.
        session.execute(
            _TEAM_AUDIT_INSERT,
            {
                "at": at,
                "actor": viewer.id,
                "role": viewer.role,
                "path": path,
                "subjects": json.dumps(subjects, separators=(",", ":")),
            },
        )
        return len(subjects)
    rows = [
        {
            "at": at,
            "actor_id": viewer.id,
            "actor_role": viewer.role,
            "subject_id": athlete_id,
            "signals": list(signals),
            "path": path,
            "kind": "read",
        }
        for athlete_id, signals in subjects
    ]
    insert_rows(session, cast(Table, AuditEntry.__table__), rows)
    return len(rows)


@lru_cache(maxsize=64)
def _ordered_once(signals: frozenset[str]) -> tuple[str, ...]:
    # A team has a handful of distinct grants: each is put in canonical order once.
    return tuple(ordered(signals))


# Rows in the order of the document (by athlete id), as one INSERT … SELECT would give them.
_TEAM_AUDIT_INSERT = text(
    f"""
    INSERT INTO {AuditEntry.__tablename__} (at, actor_id, actor_role, subject_id, signals, path, kind)
    SELECT :at, :actor, :role, (subject.value ->> 0)::integer, subject.value -> 1, :path, 'read'
    FROM jsonb_array_elements(CAST(:subjects AS jsonb)) WITH ORDINALITY AS subject(value, n)
    ORDER BY subject.n
    """
).bindparams(
    bindparam("at", type_=UTCDateTime()),
    bindparam("actor", type_=NullType()),
    bindparam("role", type_=NullType()),
    bindparam("path", type_=NullType()),
    bindparam("subjects", type_=NullType()),
)
