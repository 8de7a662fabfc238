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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.dates import DateRange, date_range, local_today
from perfhub.core.errors import Forbidden, NotFound
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
from perfhub.privacy.queries import grants_of
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
