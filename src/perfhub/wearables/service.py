"""Vendor connections: token storage and refresh, the link backfill request, unlinking and revocation.

The OAuth link flow that creates a connection is ``linking``."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.crypto import SecretBox
from perfhub.core.db import utcnow
from perfhub.core.errors import Conflict, NotFound
from perfhub.pipeline.events import BackfillRequested, publish
from perfhub.settings import Settings
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import InvalidGrant, VendorError
from perfhub.wearables.vendors.oauth import TokenSet
from perfhub.wearables.vendors.registry import adapter, http_client, make_client, vendor_config

# How much history a new link fetches: the longest window readiness looks back over (60 days
# for the normal range) plus a month, so the first full score needs no wait at all.
LINK_BACKFILL_DAYS = 90
BACKFILL_ACTIVE = ("queued", "running")
log = logging.getLogger(__name__)


def configured(settings: Settings, vendor: str) -> VendorConfig:
    """The vendor's configuration; 409 while this server has none."""
    config = vendor_config(settings, vendor)
    if config is None:
        raise Conflict(f"{vendor} is not configured on this server (no PERFHUB_{vendor.upper()}_CLIENT_ID)")
    return config


def request_backfill(
    session: Session, connection: VendorConnection, last_day: date, days: int = LINK_BACKFILL_DAYS
) -> None:
    """Reset the progress to a new backfill of ``days`` wake dates ending ``last_day`` and ask
    the ingest stage for it, in the caller's transaction (so a link is never without one)."""
    connection.backfill_status = "queued"
    connection.backfill_from = last_day - timedelta(days=days - 1)
    connection.backfill_to = last_day
    connection.backfill_days_done = 0
    connection.backfill_records = 0
    connection.backfill_error = None
    connection.backfill_started_at = None
    connection.backfill_finished_at = None
    connection.backfill_resume_at = None
    session.flush()  # a first link's id goes into the event
    publish(session, backfill_cursor(connection))


def backfill_cursor(connection: VendorConnection) -> BackfillRequested:
    """The event asking for the next chunk: which link's backfill, and how far it had come.

    A handler acts on it only while both still hold, which makes redeliveries, replays and a
    previous link's leftovers no-ops.
    """
    assert connection.linked_at is not None
    return BackfillRequested(
        connection.id,
        connection.user_id,
        connection.vendor,
        connection.linked_at,
        connection.backfill_days_done or 0,
    )


def stop_backfill(connection: VendorConnection, reason: str) -> None:
    """End a queued or running backfill as failed with ``reason`` (its landed days stay)."""
    if connection.backfill_status in BACKFILL_ACTIVE:
        connection.backfill_status = "failed"
        connection.backfill_error = reason
        connection.backfill_finished_at = utcnow()
        connection.backfill_resume_at = None


def store_tokens(connection: VendorConnection, tokens: TokenSet, box: SecretBox) -> None:
    connection.access_token = box.seal(tokens.access_token)
    if tokens.refresh_token:
        connection.refresh_token = box.seal(tokens.refresh_token)
    connection.expires_at = datetime.fromtimestamp(tokens.expires_at, UTC) if tokens.expires_at else None
    connection.scope = tokens.scope


def access_token(session: Session, settings: Settings, connection: VendorConnection) -> str:
    """A usable access token, refreshed first when it expires within a minute.

    Rotating refresh tokens: the new one is stored in this same transaction. A refusal
    (``invalid_grant``) marks the connection as needing a relink.
    """
    box = SecretBox(settings.resolved_secret_key())
    if connection.status != "linked" or connection.access_token is None:
        raise NotFound(f"{connection.vendor} is not linked")
    expires = connection.expires_at.timestamp() if connection.expires_at else None
    if expires is not None and expires - time.time() < 60 and connection.refresh_token:
        current = TokenSet(
            access_token=box.open(connection.access_token),
            refresh_token=box.open(connection.refresh_token),
            expires_at=expires,
            scope=connection.scope,
        )
        try:
            tokens = adapter(connection.vendor).refresh(
                http_client(), configured(settings, connection.vendor), current
            )
        except InvalidGrant:
            connection.status = "needs_relink"
            connection.status_reason = "refresh_refused"
            raise
        store_tokens(connection, tokens, box)
    return box.open(connection.access_token)


def disconnect(session: Session, settings: Settings, user: User, vendor: str) -> None:
    """Revoke at the vendor where it can, forget the tokens, stop ingest (and the backfill) at once."""
    # Locked: a backfill chunk in flight finishes first, so its progress is what gets stopped.
    connection = session.scalar(
        select(VendorConnection)
        .where(VendorConnection.user_id == user.id, VendorConnection.vendor == vendor)
        .with_for_update()
    )
    if connection is None or connection.status == "revoked":
        raise NotFound(f"{vendor} is not linked")
    config = vendor_config(settings, vendor)
    revocable = adapter(vendor).revocable
    if revocable and config is not None and connection.access_token and connection.status == "linked":
        # The tokens are forgotten below whatever the vendor said.
        with contextlib.suppress(VendorError):
            adapter(vendor).revoke(make_client(vendor, access_token(session, settings, connection), config))
    revoke_connection(connection, "unlinked", "stopped: the connection was unlinked")


def revoke_connection(connection: VendorConnection, reason: str, backfill_reason: str) -> None:
    """Forget the tokens and stop ingest and the backfill at once; ``reason`` is shown to the
    athlete in ``GET /connections``."""
    connection.status = "revoked"
    connection.status_reason = reason
    connection.revoked_at = utcnow()
    connection.access_token = None
    connection.refresh_token = None
    connection.expires_at = None
    stop_backfill(connection, backfill_reason)


def connections_of(session: Session, user: User) -> list[VendorConnection]:
    return list(session.scalars(select(VendorConnection).where(VendorConnection.user_id == user.id)))
