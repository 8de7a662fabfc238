"""What the pilot report reads, as the plain rows :mod:`perfhub.reports.pilot` computes from.

Every read is one statement over the report's athletes — every athlete, or a team's — named by a
subquery (:func:`scope`), so that the statements do not grow with the number of athletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.errors import NotFound
from perfhub.core.outbox import DATA_NORMALIZED, INSIGHTS_UPDATED, DeadLetter, OutboxRow
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, SleepDaily
from perfhub.reports.pilot import DeadLetterFact, LinkAttempt
from perfhub.reports.timing import (
    ACTIVE_DAYS,
    NIGHT_SIGNALS,
    READINESS,
    Announcement,
    Athlete,
    LinkSpan,
    Reading,
    Snapshot,
)
from perfhub.teams.models import Team, TeamMembershipSpan
from perfhub.wearables.models import LIVE_STATUSES, OAuthState, VendorConnection
from perfhub.wearables.vendors.registry import DATED_ONLY_VENDORS

# A night dated D can be normalised from D−1 10:00 UTC on (its wake, just after midnight at
# UTC+14): events are read from the day before the period.
EARLIEST_EVENT = timedelta(days=1)


def team_of(session: Session, team_id: int) -> dict[str, Any]:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"no team with id {team_id}")
    return {"id": team.id, "name": team.name}


def scope(team_id: int | None) -> Select[int]:
    """The report's athletes: whoever was ever in a team (the days they were are sorted out by
    :func:`athletes`), or everyone with the athlete role."""
    if team_id is not None:
        return select(TeamMembershipSpan.athlete_id).where(TeamMembershipSpan.team_id == team_id)
    return select(User.id).where(User.role == "athlete")


def athletes(session: Session, team_id: int | None, start: date, end: date) -> list[Athlete]:
    """The report's athletes; for a team, those in it at some time from ``start`` to ``end``
    (a day either side, for the zones), each with when they were."""
    rows = session.execute(select(User.id, User.tz).where(User.id.in_(scope(team_id))).order_by(User.id))
    if team_id is None:
        return [Athlete(user_id, tz) for user_id, tz in rows]
    spans: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for athlete_id, joined, left in session.execute(
        select(TeamMembershipSpan.athlete_id, TeamMembershipSpan.joined_at, TeamMembershipSpan.left_at)
        .where(TeamMembershipSpan.team_id == team_id)
        .order_by(TeamMembershipSpan.joined_at)
    ):
        spans.setdefault(athlete_id, []).append((joined, left))
    first = datetime.combine(start - timedelta(days=1), time(0), tzinfo=UTC)
    last = datetime.combine(end + timedelta(days=2), time(0), tzinfo=UTC)
    return [
        Athlete(user_id, tz, tuple(spans[user_id]))
        for user_id, tz in rows
        if any(joined < last and (left is None or left > first) for joined, left in spans.get(user_id, ()))
    ]


def link_spans(session: Session, team_id: int | None) -> list[LinkSpan]:
    """Each connection from its latest link to its revocation (None while it stands). A relink
    moves ``linked_at``, so a connection's earlier spans are not known."""
    rows = session.execute(
        select(
            VendorConnection.user_id,
            VendorConnection.status,
            VendorConnection.linked_at,
            VendorConnection.revoked_at,
            VendorConnection.updated_at,
        ).where(VendorConnection.user_id.in_(scope(team_id)), VendorConnection.linked_at.is_not(None))
    )
    spans = []
    for user_id, status, linked_at, revoked_at, updated_at in rows:
        if linked_at is None:
            continue
        end = None if status in LIVE_STATUSES else (revoked_at or updated_at)
        spans.append(LinkSpan(user_id, linked_at, end))
    return spans


def readings(session: Session, team_id: int | None, start: date, end: date) -> list[Reading]:
    """HRV and sleep nights from the week before ``start`` (for who was active) to ``end``; those
    of vendors that give a date only are marked untimed."""
    first = start - timedelta(days=ACTIVE_DAYS - 1)
    found = []
    for signal, model in (("hrv", HrvDaily), ("sleep", SleepDaily)):
        rows = session.execute(
            select(model.user_id, model.date, model.captured_at, model.vendor).where(
                model.user_id.in_(scope(team_id)), model.date >= first, model.date <= end
            )
        )
        found += [
            Reading(user_id, day, signal, captured, vendor not in DATED_ONLY_VENDORS)
            for user_id, day, captured, vendor in rows
        ]
    return found


def snapshots(session: Session, team_id: int | None, start: date, end: date) -> list[Snapshot]:
    """Every algorithm version's snapshots of the period: a day covered under an older version
    stays covered after an upgrade recomputed it."""
    snap = ReadinessSnapshotRow
    rows = session.execute(
        select(snap.user_id, snap.date, snap.score.is_not(None), snap.computed_at).where(
            snap.user_id.in_(scope(team_id)), snap.date >= start, snap.date <= end
        )
    )
    return [Snapshot(user_id, day, bool(scored), at) for user_id, day, scored, at in rows]


def announcements(session: Session, team_id: int | None, start: date, end: date) -> list[Announcement]:
    """The outbox's ``data.normalized`` (its HRV and sleep) and ``insights.updated`` events
    naming days of the period. They are kept (the outbox is not pruned), and unlike a snapshot's
    ``computed_at`` they are not rewritten when a day is recomputed."""
    since = datetime.combine(start, time(0), tzinfo=UTC) - EARLIEST_EVENT
    rows = session.execute(
        select(OutboxRow.user_id, OutboxRow.subject, OutboxRow.created_at, OutboxRow.payload).where(
            OutboxRow.subject.in_((DATA_NORMALIZED, INSIGHTS_UPDATED)),
            OutboxRow.user_id.in_(scope(team_id)),
            OutboxRow.created_at >= since,
        )
    )
    found = []
    for user_id, subject, created_at, payload in rows:
        kinds = [READINESS] if subject == INSIGHTS_UPDATED else _night_signals(payload)
        for day in _dates(payload, start, end):
            found += [Announcement(user_id, day, kind, created_at) for kind in kinds]
    return found


def _night_signals(payload: Any) -> list[str]:
    signals = payload.get("signals") if isinstance(payload, dict) else None
    return [s for s in NIGHT_SIGNALS if isinstance(signals, list) and s in signals]


def _dates(payload: Any, start: date, end: date) -> Iterator[date]:
    """The payload's days inside ``start``..``end``; anything unreadable is left out (the events'
    own consumers judge them, not a report)."""
    listed = payload.get("dates") if isinstance(payload, dict) else None
    for raw in listed if isinstance(listed, list) else []:
        try:
            day = date.fromisoformat(raw)
        except (TypeError, ValueError):
            continue
        if start <= day <= end:
            yield day


def link_history(session: Session, team_id: int | None) -> tuple[list[datetime], list[LinkAttempt]]:
    """When each connection was last linked, and the OAuth attempts still kept (the link flow
    deletes them a day after they expire), each with its connection's last link."""
    linked: dict[tuple[int, str], datetime] = {
        (user_id, vendor): at
        for user_id, vendor, at in session.execute(
            select(VendorConnection.user_id, VendorConnection.vendor, VendorConnection.linked_at).where(
                VendorConnection.user_id.in_(scope(team_id)), VendorConnection.linked_at.is_not(None)
            )
        )
        if at is not None
    }
    attempts = [
        LinkAttempt(used_at, expires_at, linked.get((user_id, vendor)))
        for user_id, vendor, used_at, expires_at in session.execute(
            select(OAuthState.user_id, OAuthState.vendor, OAuthState.used_at, OAuthState.expires_at).where(
                OAuthState.user_id.in_(scope(team_id))
            )
        )
    ]
    return list(linked.values()), attempts


def dead_letters(
    session: Session, team_id: int | None, start: datetime, end: datetime
) -> list[DeadLetterFact]:
    """Dead letters filed from ``start`` to before ``end``: all of them, or for a team those
    of its athletes (a letter that names nobody belongs to no team)."""
    query = select(DeadLetter.consumer, DeadLetter.subject, DeadLetter.reason, DeadLetter.replayed_at).where(
        DeadLetter.created_at >= start, DeadLetter.created_at < end
    )
    if team_id is not None:
        query = query.where(DeadLetter.user_id.in_(scope(team_id)))
    return [
        DeadLetterFact(consumer or subject, reason, replayed is not None)
        for consumer, subject, reason, replayed in session.execute(query)
    ]
