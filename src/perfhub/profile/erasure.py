"""Erasing a person: ``DELETE /me`` and ``perfhub user erase``.

An erasure is three steps, and only the last one changes perfhub's data:

1. :func:`vendor_accesses` — in a short transaction, a usable access token for each linked
   vendor that can revoke our access (refreshed first when it is about to expire).
2. :func:`revoke_at_vendors` — with no transaction open, each of those vendors is asked to
   revoke our access. The calls are network calls that may hang for seconds; on SQLite every
   transaction holds the one write lock, so none is held while they run. A vendor that cannot
   be reached, or refuses, does not stop the erasure: it is logged (vendor and person's id) and
   reported to the caller, the tokens are deleted below all the same, and the athlete can remove
   perfhub in the vendor's own settings.
3. :func:`erase_account` — one transaction deletes every row about the person, in every domain,
   and adds the one row that outlives them: the access log's ``erasure`` record (who, their
   role, when, through which path; no signals).

What "every row about the person" is, table by table: canonical HRV and sleep days, readiness
snapshots, alerts and alert preferences, the raw landing log, outbox events and their delivery
records and dead letters that name them (by ``user_id`` or by ``userId`` in the payload), API
tokens, web sessions, failed sign-ins (kept under a hash of the email), vendor connections and
pending links, team memberships and coaching roles, invitations to their email, and the access
log's rows about them. Rows that are someone else's keep existing without them: a read they
made of an athlete's data stays in that athlete's access log with no reader (shown as "a
deleted account"), an invitation they sent stays without a sender, a team they coached stays
(without a coach it is visible to admins).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute, Session

from perfhub.alerts.models import Alert, AlertPreference
from perfhub.auth.models import ApiToken, LoginFailure, User, WebSession
from perfhub.auth.sessions import hash_secret
from perfhub.core.errors import NotFound
from perfhub.core.outbox import DeadLetter, OutboxDelivery, OutboxRow
from perfhub.privacy.models import AuditEntry
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily
from perfhub.settings import Settings
from perfhub.teams.models import TeamCoach, TeamInvitation, TeamMembership, TeamMembershipSpan
from perfhub.wearables.models import OAuthState, VendorConnection
from perfhub.wearables.service import access_token
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import VendorError
from perfhub.wearables.vendors.registry import adapter, make_client, retry_policy, vendor_config

log = logging.getLogger(__name__)

# A revocation is worth a retry, not a long wait: the athlete is waiting for the answer.
REVOKE_ATTEMPTS = 2
REVOKE_MAX_WAIT_S = 5.0

# Rows that belong to the person alone, by the column naming them.
_OWN_ROWS: tuple[InstrumentedAttribute[Any], ...] = (
    HrvDaily.user_id,
    SleepDaily.user_id,
    ReadinessSnapshotRow.user_id,
    Alert.user_id,
    AlertPreference.user_id,
    ApiToken.user_id,
    WebSession.user_id,
    VendorConnection.user_id,
    OAuthState.user_id,
    TeamMembership.athlete_id,
    TeamMembershipSpan.athlete_id,
    TeamCoach.coach_id,
)


@dataclass(frozen=True)
class VendorAccess:
    """What revoking our access at one vendor needs: the vendor, a live token, its configuration."""

    vendor: str
    token: str
    config: VendorConfig

    def __repr__(self) -> str:  # never the token
        return f"VendorAccess({self.vendor})"


@dataclass(frozen=True)
class Erasure:
    user_id: int
    not_revoked: tuple[str, ...]  # vendors that could not revoke our access (the tokens are gone anyway)


Transaction = Callable[[], AbstractContextManager[Session]]


def erase(transaction: Transaction, settings: Settings, user_id: int, *, path: str) -> Erasure:
    """Revoke the person's vendor access, then erase them; ``transaction`` opens a unit of work
    (the caller's boundary: the route's ``uow``, the command's job)."""
    with transaction() as session:
        accesses, not_revoked = vendor_accesses(session, settings, user_id)
    not_revoked += revoke_at_vendors(user_id, accesses)
    with transaction() as session:
        erase_account(session, user_id, path=path)
    return Erasure(user_id, tuple(sorted(not_revoked)))


def vendor_accesses(
    session: Session, settings: Settings, user_id: int
) -> tuple[list[VendorAccess], list[str]]:
    """A live token for each linked vendor that can revoke our access, and the vendors whose
    token could not even be had (a refresh the vendor refused, or could not answer)."""
    connections = session.scalars(
        select(VendorConnection)
        .where(VendorConnection.user_id == user_id, VendorConnection.status == "linked")
        .order_by(VendorConnection.vendor)
    )
    accesses: list[VendorAccess] = []
    failed: list[str] = []
    for connection in connections:
        config = vendor_config(settings, connection.vendor)
        if config is None or not adapter(connection.vendor).revocable or connection.access_token is None:
            continue  # nothing to revoke at the vendor: forgetting the tokens is all there is
        try:
            token = access_token(session, settings, connection)
        except (VendorError, NotFound) as exc:
            _not_revoked(user_id, connection.vendor, exc)
            failed.append(connection.vendor)
            continue
        accesses.append(VendorAccess(connection.vendor, token, config))
    return accesses, failed


def revoke_at_vendors(user_id: int, accesses: list[VendorAccess]) -> list[str]:
    """Ask each vendor to revoke our access; the vendors that could not."""
    policy = dataclasses.replace(
        retry_policy(), max_attempts=REVOKE_ATTEMPTS, max_total_wait_s=REVOKE_MAX_WAIT_S
    )
    failed: list[str] = []
    for access in accesses:
        try:
            adapter(access.vendor).revoke(make_client(access.vendor, access.token, access.config, policy))
        except VendorError as exc:
            _not_revoked(user_id, access.vendor, exc)
            failed.append(access.vendor)
    return failed


def _not_revoked(user_id: int, vendor: str, exc: Exception) -> None:
    log.warning(
        "erasure of user %s: %s access not revoked at the vendor (%s: %s); its tokens are deleted here",
        user_id,
        vendor,
        type(exc).__name__,
        exc,
    )


def erase_account(session: Session, user_id: int, *, path: str) -> None:
    """Delete every row about ``user_id`` and record the erasure (see the module's docstring)."""
    user = session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    role, email = user.role, user.email
    dialect = session.get_bind().dialect.name

    # Events, dead letters and landed deliveries name the person in their ``user_id`` column or,
    # where that is empty, perhaps only in their payload.
    events = _named(OutboxRow, user_id, dialect)
    session.execute(
        delete(OutboxDelivery).where(OutboxDelivery.outbox_id.in_(select(OutboxRow.id).where(events)))
    )
    session.execute(delete(OutboxRow).where(events))
    for model in (DeadLetter, RawEvent):
        session.execute(delete(model).where(_named(model, user_id, dialect)))
    for column in _OWN_ROWS:
        session.execute(delete(column.class_).where(column == user_id))
    # Reads of their data. An earlier erasure record stays: on SQLite an erased person's id can
    # be given to the next account, and that record is another person's.
    reads = AuditEntry.kind == "read"
    session.execute(delete(AuditEntry).where(AuditEntry.subject_id == user_id, reads))
    session.execute(delete(TeamInvitation).where(TeamInvitation.email == email.lower()))
    session.execute(delete(LoginFailure).where(LoginFailure.email_hash == hash_secret(email.strip().lower())))
    # What is someone else's stays, without the person.
    session.execute(
        update(TeamInvitation).where(TeamInvitation.invited_by_id == user_id).values(invited_by_id=None)
    )
    session.execute(update(AuditEntry).where(AuditEntry.actor_id == user_id, reads).values(actor_id=None))
    session.execute(delete(User).where(User.id == user_id))
    session.add(
        AuditEntry(
            actor_id=user_id, actor_role=role, subject_id=user_id, signals=[], path=path, kind="erasure"
        )
    )
    session.flush()


def _named(model: type[OutboxRow | DeadLetter | RawEvent], user_id: int, dialect: str) -> ColumnElement[bool]:
    """Rows of ``model`` about ``user_id``: by the column, or by the payload's ``userId`` (a
    number, as events carry it) where the column is empty. Both arms use the column's index:
    a payload is only looked into on the rows that name nobody."""
    in_payload: ColumnElement[bool]
    if dialect == "postgresql":
        in_payload = model.payload.op("@>")(literal({"userId": user_id}, JSONB))
    else:
        in_payload = func.json_extract(model.payload, "$.userId") == user_id
    return or_(model.user_id == user_id, and_(model.user_id.is_(None), in_payload))
