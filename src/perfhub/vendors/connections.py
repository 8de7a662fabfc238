"""Linking athletes to vendor accounts: OAuth state, token storage and refresh, revocation."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.bus import BACKFILL_REQUESTED, publish
from perfhub.core.crypto import SecretBox
from perfhub.core.dates import local_today
from perfhub.core.db import utcnow
from perfhub.core.errors import BadRequest, Conflict, NotFound
from perfhub.settings import Settings
from perfhub.vendors import base
from perfhub.vendors.models import OAuthState, VendorConnection
from perfhub.vendors.registry import http_client, make_client, vendor_config

# How much history a new link fetches: the longest window readiness looks back over (60 days
# for the normal range) plus a month, so the first full score needs no wait at all.
LINK_BACKFILL_DAYS = 90
BACKFILL_ACTIVE = ("queued", "running")


def redirect_uri(settings: Settings, vendor: str) -> str:
    return f"{settings.base_url.rstrip('/')}/api/v1/connections/{vendor}/callback"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _config(settings: Settings, vendor: str) -> base.VendorConfig:
    config = vendor_config(settings, vendor)
    if config is None:
        raise Conflict(f"{vendor} is not configured on this server (no PERFHUB_{vendor.upper()}_CLIENT_ID)")
    return config


def start_link(session: Session, settings: Settings, user: User, vendor: str) -> str:
    """A fresh authorization URL with a single-use, expiring state bound to ``user``."""
    config = _config(settings, vendor)
    state = secrets.token_urlsafe(32)
    verifier, challenge = base.new_pkce_pair() if config.uses_pkce else (None, None)
    box = SecretBox(settings.resolved_secret_key())
    session.add(
        OAuthState(
            state_hash=_hash(state),
            user_id=user.id,
            vendor=vendor,
            code_verifier=box.seal(verifier) if verifier else None,
            expires_at=utcnow() + timedelta(seconds=settings.oauth_state_ttl_s),
        )
    )
    return base.authorization_url(config, state, redirect_uri(settings, vendor), challenge)


def complete_link(
    session: Session,
    settings: Settings,
    vendor: str,
    code: str,
    state: str,
    *,
    now: datetime | None = None,
) -> VendorConnection:
    """Exchange the code for tokens (stored encrypted), record who the athlete is at the vendor
    and queue the backfill of the last :data:`LINK_BACKFILL_DAYS` days ending on the athlete's
    local date at ``now``. Only the request is recorded here; the ingest stage fetches."""
    config = _config(settings, vendor)
    pending = session.scalar(
        select(OAuthState).where(OAuthState.state_hash == _hash(state)).with_for_update()
    )
    if pending is None or pending.vendor != vendor:
        raise BadRequest("unknown link state: start linking again")
    if pending.used_at is not None:
        raise BadRequest("this link was already used: start linking again")
    if pending.expires_at < utcnow():
        raise BadRequest("this link expired: start linking again")
    pending.used_at = utcnow()
    box = SecretBox(settings.resolved_secret_key())
    verifier = box.open(pending.code_verifier) if pending.code_verifier else None
    try:
        tokens = base.exchange_code(http_client(), config, code, redirect_uri(settings, vendor), verifier)
    except base.VendorError as exc:
        raise BadRequest(f"{vendor} refused the authorization code: {exc}") from exc
    vendor_user_id = None
    client = make_client(vendor, tokens.access_token, config)
    if hasattr(client, "vendor_user_id"):
        vendor_user_id = str(client.vendor_user_id())
    connection = session.scalar(
        select(VendorConnection).where(
            VendorConnection.user_id == pending.user_id, VendorConnection.vendor == vendor
        )
    )
    if connection is None:
        connection = VendorConnection(user_id=pending.user_id, vendor=vendor)
        session.add(connection)
    _store_tokens(connection, tokens, box)
    connection.status = "linked"
    connection.vendor_user_id = vendor_user_id
    # Always the real time, whatever ``now`` says: it tells this link's backfill from an
    # earlier link's, whose chunks may still be in flight.
    connection.linked_at = utcnow()
    user = session.get(User, pending.user_id)
    assert user is not None
    request_backfill(session, connection, local_today(user.tz, now))
    return connection


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
    session.flush()  # a first link's id goes into the event
    publish(session, BACKFILL_REQUESTED, backfill_cursor(connection), user_id=connection.user_id)


def backfill_cursor(connection: VendorConnection) -> dict[str, Any]:
    """The event asking for the next chunk: which link's backfill, and how far it had come.

    A handler acts on it only while both still hold, which makes redeliveries, replays and a
    previous link's leftovers no-ops.
    """
    assert connection.linked_at is not None
    return {
        "connectionId": connection.id,
        "userId": connection.user_id,
        "vendor": connection.vendor,
        "linkedAt": connection.linked_at.isoformat(),
        "daysDone": connection.backfill_days_done or 0,
    }


def stop_backfill(connection: VendorConnection, reason: str) -> None:
    """End a queued or running backfill as failed with ``reason`` (its landed days stay)."""
    if connection.backfill_status in BACKFILL_ACTIVE:
        connection.backfill_status = "failed"
        connection.backfill_error = reason
        connection.backfill_finished_at = utcnow()


def _store_tokens(connection: VendorConnection, tokens: base.TokenSet, box: SecretBox) -> None:
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
        current = base.TokenSet(
            access_token=box.open(connection.access_token),
            refresh_token=box.open(connection.refresh_token),
            expires_at=expires,
            scope=connection.scope,
        )
        try:
            tokens = base.refresh(http_client(), _config(settings, connection.vendor), current)
        except base.InvalidGrant:
            connection.status = "needs_relink"
            raise
        _store_tokens(connection, tokens, box)
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
    if vendor == "whoop" and config is not None and connection.access_token and connection.status == "linked":
        try:
            client = make_client(vendor, access_token(session, settings, connection), config)
            client.revoke()  # type: ignore[attr-defined]
        except base.VendorError:
            pass  # tokens are forgotten below whatever the vendor said
    connection.status = "revoked"
    connection.access_token = None
    connection.refresh_token = None
    connection.expires_at = None
    stop_backfill(connection, "stopped: the connection was unlinked")


def connections_of(session: Session, user: User) -> list[VendorConnection]:
    return list(session.scalars(select(VendorConnection).where(VendorConnection.user_id == user.id)))
