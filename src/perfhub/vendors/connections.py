"""Linking athletes to vendor accounts: OAuth state, token storage and refresh, revocation."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.crypto import SecretBox
from perfhub.core.db import utcnow
from perfhub.core.errors import BadRequest, Conflict, NotFound
from perfhub.settings import Settings
from perfhub.vendors import base
from perfhub.vendors.models import OAuthState, VendorConnection
from perfhub.vendors.registry import http_client, make_client, vendor_config


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
    session: Session, settings: Settings, vendor: str, code: str, state: str
) -> VendorConnection:
    """Exchange the code for tokens (stored encrypted) and record who the athlete is at the vendor."""
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
    connection.linked_at = utcnow()
    session.flush()
    return connection


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
    """Revoke at the vendor where it can, forget the tokens, stop ingest at once."""
    connection = session.scalar(
        select(VendorConnection).where(VendorConnection.user_id == user.id, VendorConnection.vendor == vendor)
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


def connections_of(session: Session, user: User) -> list[VendorConnection]:
    return list(session.scalars(select(VendorConnection).where(VendorConnection.user_id == user.id)))
