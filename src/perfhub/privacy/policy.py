"""The one policy function every read path asks, and the audit trail it leaves.

An athlete reads all of their own data. A coach reads an athlete only through a team the
coach runs, and only the signals that athlete shares with that team. An admin reads all.
Every read by someone other than the athlete is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import DateRange, date_range, local_today
from perfhub.core.errors import Forbidden, NotFound
from perfhub.privacy.models import AuditEntry
from perfhub.teams.models import SIGNALS, Team, TeamMembership


@dataclass(frozen=True)
class Access:
    """What ``viewer`` may read of ``subject``: a subset of :data:`SIGNALS`."""

    viewer: User
    subject: User
    signals: frozenset[str]

    @property
    def is_self(self) -> bool:
        return self.viewer.id == self.subject.id

    def hidden(self, wanted: Iterable[str] = SIGNALS) -> list[str]:
        return [signal for signal in wanted if signal not in self.signals]


def readable_signals(session: Session, viewer: User, subject: User) -> frozenset[str]:
    if viewer.id == subject.id or viewer.role == "admin":
        return frozenset(SIGNALS)
    if viewer.role != "coach":
        return frozenset()
    memberships = session.scalars(
        select(TeamMembership)
        .join(Team, Team.id == TeamMembership.team_id)
        .where(Team.coach_id == viewer.id, TeamMembership.athlete_id == subject.id)
    )
    granted: set[str] = set()
    for membership in memberships:
        granted |= {signal for signal, shared in membership.sharing().items() if shared}
    return frozenset(granted)


def is_related(session: Session, viewer: User, subject: User) -> bool:
    """Whether the viewer may know the subject exists (self, admin, or the subject's coach)."""
    if viewer.id == subject.id or viewer.role == "admin":
        return True
    if viewer.role != "coach":
        return False
    return (
        session.scalar(
            select(TeamMembership.id)
            .join(Team, Team.id == TeamMembership.team_id)
            .where(Team.coach_id == viewer.id, TeamMembership.athlete_id == subject.id)
            .limit(1)
        )
        is not None
    )


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
    if subject is None or not is_related(session, viewer, subject):
        raise NotFound(f"no athlete with id {subject_id}")
    allowed = readable_signals(session, viewer, subject)
    granted = [signal for signal in wanted if signal in allowed]
    if not partial and len(granted) < len(wanted):
        missing = ", ".join(signal for signal in wanted if signal not in allowed)
        raise Forbidden(f"athlete {subject_id} does not share {missing} with you")
    if viewer.id != subject.id and granted:
        session.add(
            AuditEntry(
                actor_id=viewer.id, actor_role=viewer.role, subject_id=subject.id, signals=granted, path=path
            )
        )
    return Access(viewer=viewer, subject=subject, signals=frozenset(granted))


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
