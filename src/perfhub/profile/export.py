"""``GET /me/export``: everything perfhub holds about the caller, as one JSON document.

The document is written incrementally — each table read in chunks (``yield_per``), each row
encoded and written as it comes — so memory stays flat however long the history. It is written
to a spooled temporary file inside the request's transaction and then streamed from that file:
on SQLite every transaction holds the one write lock (``core.db``), and a document streamed
straight from the database would hold it for as long as the slowest client takes to download.
Written first, it is also one consistent snapshot (REPEATABLE READ on PostgreSQL), and a
failure is an error answer rather than a cut-off file.

What is the caller's, table by table (``perfhub.models``): their profile; API tokens and web
sessions (metadata: never a hash); HRV and sleep days; readiness snapshots; weekly insights;
alerts and alert preferences; the raw landing log (payloads as received) and a summary of the
deliveries by source (imports, backfills, the ingest API); dead letters filed about them;
vendor connections (status, dates, backfill progress: never the encrypted tokens) and pending
links (never the sealed state); team memberships with what each shares, and when they were in
each team; the teams they coach,
invitations to their email and invitations they sent; and the access log about them and of the
reads they made. Outbox rows are not exported: they are notifications derived from the rows above.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from tempfile import SpooledTemporaryFile
from typing import IO, Any, cast

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.orm import Session

from perfhub.alerts.models import Alert, AlertPreference
from perfhub.auth.models import ApiToken, User, WebSession
from perfhub.core.db import Base, utcnow
from perfhub.core.errors import NotFound
from perfhub.core.outbox import DeadLetter
from perfhub.insights.models import WeeklyInsight
from perfhub.plans.models import AdjustmentDecision, PlannedSession, SessionAdjustment
from perfhub.privacy.queries import audit_trail_of
from perfhub.privacy.schemas import AuditEntryOut
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily, Workout
from perfhub.teams.models import Team, TeamCoach, TeamInvitation, TeamMembership, TeamMembershipSpan
from perfhub.training.models import CompletedSession
from perfhub.wearables.models import OAuthState, VendorConnection

EXPORT_FORMAT = "perfhub-export"
EXPORT_VERSION = 1
CHUNK_ROWS = 500  # rows fetched per round trip
SPOOL_IN_MEMORY = 1 << 20  # a document past 1 MiB moves to a temporary file
BLOCK_BYTES = 64 * 1024  # what the response sends at a time

# Columns that are secrets, or a hash or sealed copy of one: never exported, even to their owner.
SECRET_COLUMNS: dict[type[Base], frozenset[str]] = {
    User: frozenset({"password_hash"}),
    ApiToken: frozenset({"token_hash"}),
    WebSession: frozenset({"token_hash"}),
    VendorConnection: frozenset({"access_token", "refresh_token"}),
    OAuthState: frozenset(
        {"state_hash", "code_verifier", "browser_hash", "held_code", "completion_hash", "held_tokens"}
    ),
    DeadLetter: frozenset({"headers"}),  # trace context and replay marks: the bus's, not the person's
}

Rows = Iterable[dict[str, Any]]


def filename(user_id: int) -> str:
    return f"perfhub-export-{user_id}.json"


def spooled_export(session: Session, user_id: int, now: datetime | None = None) -> IO[bytes]:
    """The export of ``user_id`` written to a temporary file (in memory while small), rewound."""
    spool = cast(IO[bytes], SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY))  # noqa: SIM115 - handed on open
    try:
        for chunk in export_chunks(session, user_id, now or utcnow()):
            spool.write(chunk.encode())
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def file_blocks(file: IO[bytes]) -> Iterator[bytes]:
    """The file's bytes in blocks; closes (and so deletes) it when done or abandoned."""
    try:
        while block := file.read(BLOCK_BYTES):
            yield block
    finally:
        file.close()


def export_chunks(session: Session, user_id: int, now: datetime) -> Iterator[str]:
    """The export document as consecutive pieces of JSON text."""
    _consistent_snapshot(session)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    yield "{" + _encode("format") + ":" + _encode(EXPORT_FORMAT)
    yield "," + _encode("version") + ":" + _encode(EXPORT_VERSION)
    yield "," + _encode("exportedAt") + ":" + _encode(now)
    yield "," + _encode("profile") + ":" + _encode(_profile(session, user))
    yield "," + _encode("alertPreferences") + ":" + _encode(_alert_preferences(session, user))
    for key, rows in _sections(user):
        yield "," + _encode(key) + ":["
        first = True
        for row in rows(session):
            yield ("" if first else ",") + _encode(row)
            first = False
        yield "]"
    yield "}\n"


def _sections(user: User) -> list[tuple[str, Callable[[Session], Rows]]]:
    me = user.id
    return [
        ("apiTokens", lambda s: _rows(s, ApiToken, ApiToken.user_id == me, ApiToken.id)),
        ("webSessions", lambda s: _rows(s, WebSession, WebSession.user_id == me, WebSession.id)),
        ("hrvDays", lambda s: _rows(s, HrvDaily, HrvDaily.user_id == me, HrvDaily.date, HrvDaily.vendor)),
        (
            "sleepDays",
            lambda s: _rows(s, SleepDaily, SleepDaily.user_id == me, SleepDaily.date, SleepDaily.vendor),
        ),
        (
            "readinessSnapshots",
            lambda s: _rows(
                s,
                ReadinessSnapshotRow,
                ReadinessSnapshotRow.user_id == me,
                ReadinessSnapshotRow.date,
                ReadinessSnapshotRow.algorithm_version,
            ),
        ),
        ("alerts", lambda s: _rows(s, Alert, Alert.user_id == me, Alert.date, Alert.id)),
        (
            "weeklyInsights",
            lambda s: _rows(s, WeeklyInsight, WeeklyInsight.user_id == me, WeeklyInsight.week),
        ),
        ("workouts", lambda s: _rows(s, Workout, Workout.user_id == me, Workout.start_at, Workout.id)),
        (
            "plannedSessions",
            lambda s: _rows(
                s, PlannedSession, PlannedSession.athlete_id == me, PlannedSession.date, PlannedSession.id
            ),
        ),
        (
            "sessionAdjustments",
            lambda s: _rows(s, SessionAdjustment, SessionAdjustment.athlete_id == me, SessionAdjustment.id),
        ),
        (
            "adjustmentDecisions",
            lambda s: _rows(
                s,
                AdjustmentDecision,
                AdjustmentDecision.adjustment_id.in_(
                    select(SessionAdjustment.id).where(SessionAdjustment.athlete_id == me)
                ),
                AdjustmentDecision.id,
            ),
        ),
        (
            "completedSessions",
            lambda s: _rows(
                s,
                CompletedSession,
                CompletedSession.athlete_id == me,
                CompletedSession.date,
                CompletedSession.id,
            ),
        ),
        ("rawEvents", lambda s: _rows(s, RawEvent, RawEvent.user_id == me, RawEvent.id)),
        ("deliveries", lambda s: _deliveries(s, me)),
        ("deadLetters", lambda s: _rows(s, DeadLetter, DeadLetter.user_id == me, DeadLetter.id)),
        (
            "vendorConnections",
            lambda s: _rows(s, VendorConnection, VendorConnection.user_id == me, VendorConnection.id),
        ),
        ("pendingLinks", lambda s: _rows(s, OAuthState, OAuthState.user_id == me, OAuthState.id)),
        ("teamMemberships", lambda s: _memberships(s, me)),
        ("teamMembershipHistory", lambda s: _membership_spans(s, me)),
        ("teamsCoached", lambda s: _coached(s, me)),
        ("invitations", lambda s: _invitations_to(s, user.email)),
        ("invitationsSent", lambda s: _invitations_by(s, me)),
        ("accessLog", lambda s: _access_log(s, me)),
    ]


def _consistent_snapshot(session: Session) -> None:
    """Every section read as of one instant, when the export opens the session's transaction
    (otherwise the caller's isolation stands). SQLite's transactions are serializable already."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _record(model: type[Base], row: Any) -> dict[str, Any]:
    secret = SECRET_COLUMNS.get(model, frozenset())
    return {_camel(name): value for name, value in row.items() if name not in secret}


def _rows(session: Session, model: type[Base], where: ColumnElement[bool], *order: Any) -> Rows:
    """Every column of the rows of ``model`` matching ``where`` except its secrets, in chunks."""
    secret = SECRET_COLUMNS.get(model, frozenset())
    columns = [column for column in _table(model).columns if column.name not in secret]
    keys = [_camel(column.name) for column in columns]
    stmt = select(*columns).where(where).order_by(*order).execution_options(yield_per=CHUNK_ROWS)
    for row in session.execute(stmt):
        yield dict(zip(keys, row, strict=True))


def _profile(session: Session, user: User) -> dict[str, Any]:
    row = session.execute(select(_table(User)).where(_table(User).c.id == user.id)).mappings().one()
    return {**_record(User, row), "hasPassword": user.password_hash is not None}


def _alert_preferences(session: Session, user: User) -> dict[str, Any] | None:
    table = _table(AlertPreference)
    row = session.execute(select(table).where(table.c.user_id == user.id)).mappings().one_or_none()
    return None if row is None else _record(AlertPreference, row)


def _deliveries(session: Session, user_id: int) -> Rows:
    """What reached perfhub for this person, by source (ingest API, webhooks, polls, backfills,
    Apple Health imports) and vendor: how many deliveries and over which time."""
    stmt = (
        select(
            RawEvent.source,
            RawEvent.vendor,
            func.count(),
            func.min(RawEvent.received_at),
            func.max(RawEvent.received_at),
        )
        .where(RawEvent.user_id == user_id)
        .group_by(RawEvent.source, RawEvent.vendor)
        .order_by(RawEvent.source, RawEvent.vendor)
    )
    for source, vendor, count, first, last in session.execute(stmt):
        yield {"source": source, "vendor": vendor, "deliveries": count, "firstAt": first, "lastAt": last}


def _memberships(session: Session, user_id: int) -> Rows:
    stmt = (
        select(TeamMembership, Team.name)
        .join(Team, Team.id == TeamMembership.team_id)
        .where(TeamMembership.athlete_id == user_id)
        .order_by(TeamMembership.team_id)
    )
    for membership, team_name in session.execute(stmt):
        yield {
            "teamId": membership.team_id,
            "teamName": team_name,
            "sharing": membership.sharing(),
            "joinedAt": membership.joined_at,
            "updatedAt": membership.updated_at,
        }


def _membership_spans(session: Session, user_id: int) -> Rows:
    stmt = (
        select(TeamMembershipSpan, Team.name)
        .join(Team, Team.id == TeamMembershipSpan.team_id)
        .where(TeamMembershipSpan.athlete_id == user_id)
        .order_by(TeamMembershipSpan.joined_at, TeamMembershipSpan.id)
    )
    for span, team_name in session.execute(stmt):
        yield {
            "teamId": span.team_id,
            "teamName": team_name,
            "joinedAt": span.joined_at,
            "leftAt": span.left_at,
        }


def _coached(session: Session, user_id: int) -> Rows:
    stmt = (
        select(TeamCoach.team_id, Team.name, TeamCoach.added_at)
        .join(Team, Team.id == TeamCoach.team_id)
        .where(TeamCoach.coach_id == user_id)
        .order_by(TeamCoach.team_id)
    )
    for team_id, name, added_at in session.execute(stmt):
        yield {"teamId": team_id, "teamName": name, "addedAt": added_at}


def _invitations_to(session: Session, email: str) -> Rows:
    """Invitations to this person's address (who sent each is the sender's to export, not theirs)."""
    stmt = (
        select(TeamInvitation, Team.name)
        .join(Team, Team.id == TeamInvitation.team_id)
        .where(TeamInvitation.email == email.lower())
        .order_by(TeamInvitation.id)
    )
    for invitation, team_name in session.execute(stmt):
        yield {**_invitation(invitation), "teamName": team_name}


def _invitations_by(session: Session, user_id: int) -> Rows:
    """Invitations this person sent: the address is what they typed themself."""
    stmt = (
        select(TeamInvitation, Team.name)
        .join(Team, Team.id == TeamInvitation.team_id)
        .where(TeamInvitation.invited_by_id == user_id)
        .order_by(TeamInvitation.id)
    )
    for invitation, team_name in session.execute(stmt):
        yield {**_invitation(invitation), "teamName": team_name, "email": invitation.email}


def _invitation(invitation: TeamInvitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "teamId": invitation.team_id,
        "status": invitation.status,
        "createdAt": invitation.created_at,
        "expiresAt": invitation.expires_at,
        "respondedAt": invitation.responded_at,
    }


def _access_log(session: Session, user_id: int) -> Rows:
    for record in audit_trail_of(session, user_id):
        yield AuditEntryOut.of(record).model_dump(mode="json", by_alias=True, exclude={"kind"})


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _encode(value: object) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
