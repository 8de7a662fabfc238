"""Linking athletes to vendor accounts: OAuth state, token storage and refresh, revocation."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.bus import BACKFILL_REQUESTED, publish
from perfhub.core.crypto import SecretBox
from perfhub.core.dates import local_today
from perfhub.core.db import utcnow
from perfhub.core.errors import BadRequest, Conflict, Forbidden, NotFound, PerfhubError
from perfhub.settings import Settings
from perfhub.wearables.models import LIVE_STATUSES, OAuthState, VendorConnection
from perfhub.wearables.vendors import base
from perfhub.wearables.vendors.registry import http_client, make_client, vendor_config

# How much history a new link fetches: the longest window readiness looks back over (60 days
# for the normal range) plus a month, so the first full score needs no wait at all.
LINK_BACKFILL_DAYS = 90
BACKFILL_ACTIVE = ("queued", "running")
VENDOR_NAMES = {"oura": "Oura", "whoop": "WHOOP", "google": "Google Health"}
# How long a link waits for its starter once the vendor has sent a browser back: about as long
# as the vendor's code lives (Oura: 10 minutes), and the tokens of a move awaiting confirmation
# are kept no longer.
HELD_FOR = timedelta(minutes=10)
# Expired states are deleted after this (kept a little for "already used" / "expired" answers).
STATE_KEPT_AFTER_EXPIRY = timedelta(days=1)
# The ``reason`` of the 409 when a vendor account is another athlete's.
ACCOUNT_LINKED_ELSEWHERE = "vendor_account_linked_elsewhere"
log = logging.getLogger(__name__)


def redirect_uri(settings: Settings, vendor: str) -> str:
    return f"{settings.base_url.rstrip('/')}/api/v1/connections/{vendor}/callback"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _config(settings: Settings, vendor: str) -> base.VendorConfig:
    config = vendor_config(settings, vendor)
    if config is None:
        raise Conflict(f"{vendor} is not configured on this server (no PERFHUB_{vendor.upper()}_CLIENT_ID)")
    return config


def link_cookie_name(vendor: str) -> str:
    """The cookie binding a link to the browser that started it (one per vendor, so linking
    Oura and WHOOP side by side does not cross)."""
    return f"perfhub_link_{vendor}"


@dataclass(frozen=True)
class StartedLink:
    auth_url: str
    # For the starting browser's cookie only: whoever presents it at the callback is taken to
    # be the browser that started the link.
    browser_nonce: str = field(repr=False)


@dataclass(frozen=True)
class LinkOutcome:
    """Where a callback or a completion left a link.

    ``linked``: done. ``pending``: the vendor sent back a browser that did not start the link;
    nothing is linked until the starter completes it with ``completion``. ``error`` is for the
    route to raise once the unit of work has committed: a vendor code is single-use, so what
    was learnt or cancelled must be kept even when the answer is an error.
    """

    vendor: str
    status: Literal["linked", "pending", "refused"]
    completion: str | None = field(default=None, repr=False)
    error: PerfhubError | None = None


def start_link(
    session: Session, settings: Settings, user: User, vendor: str, *, move_existing: bool = False
) -> StartedLink:
    """A fresh authorization URL with a single-use, expiring state bound to ``user`` and to the
    browser that receives :attr:`StartedLink.browser_nonce` in its cookie. ``move_existing``:
    should the vendor account be another athlete's, move it without asking again."""
    config = _config(settings, vendor)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier, challenge = base.new_pkce_pair() if config.uses_pkce else (None, None)
    box = SecretBox(settings.resolved_secret_key())
    _forget_old_states(session)
    session.add(
        OAuthState(
            state_hash=_hash(state),
            user_id=user.id,
            vendor=vendor,
            code_verifier=box.seal(verifier) if verifier else None,
            expires_at=utcnow() + timedelta(seconds=settings.oauth_state_ttl_s),
            browser_hash=_hash(nonce),
            move_existing=move_existing,
        )
    )
    auth_url = base.authorization_url(config, state, redirect_uri(settings, vendor), challenge)
    return StartedLink(auth_url=auth_url, browser_nonce=nonce)


def _forget_old_states(session: Session) -> None:
    """Drop states long expired: they may hold a sealed code or tokens nobody completed."""
    session.execute(delete(OAuthState).where(OAuthState.expires_at < utcnow() - STATE_KEPT_AFTER_EXPIRY))


def _pending(session: Session, vendor: str, state: str) -> OAuthState:
    pending = session.scalar(
        select(OAuthState).where(OAuthState.state_hash == _hash(state)).with_for_update()
    )
    if pending is None or pending.vendor != vendor:
        raise BadRequest("unknown link state: start linking again")
    return pending


def _matches(secret: str | None, digest: str | None) -> bool:
    return secret is not None and digest is not None and hmac.compare_digest(_hash(secret), digest)


def _end(pending: OAuthState) -> None:
    """The state is spent: whatever it held for a confirmation is forgotten."""
    pending.used_at = utcnow()
    pending.held_code = None
    pending.held_tokens = None
    pending.completion_hash = None


def vendor_returned(
    session: Session,
    settings: Settings,
    vendor: str,
    code: str,
    state: str,
    browser_nonce: str | None,
    *,
    now: datetime | None = None,
) -> LinkOutcome:
    """The vendor sent a browser back with ``code`` for ``state``.

    The link is made here only when the browser presents the nonce of the one that started it.
    Any other browser may be a victim's, sent to the vendor with someone else's ``authUrl``:
    the state names the starter, not the person who consented. Its code is held, unused, and
    the answer carries a completion secret that only this browser sees; the starter completes
    with it (:func:`complete`), so an attacker who started the link cannot.
    """
    pending = _pending(session, vendor, state)
    if pending.used_at is not None or pending.returned_at is not None:
        raise BadRequest("this link was already used: start linking again")
    if pending.expires_at < utcnow():
        raise BadRequest("this link expired: start linking again")
    pending.returned_at = utcnow()
    if _matches(browser_nonce, pending.browser_hash):
        return _exchange_and_link(
            session, settings, pending, state, code, move_existing=pending.move_existing, now=now
        )
    completion = secrets.token_urlsafe(32)
    box = SecretBox(settings.resolved_secret_key())
    pending.held_code = box.seal(code)
    pending.completion_hash = _hash(completion)
    # The vendor's code is only good for minutes (Oura: 10) whatever the state's own lifetime.
    pending.expires_at = utcnow() + HELD_FOR
    return LinkOutcome(vendor, "pending", completion=completion)


def complete(
    session: Session,
    settings: Settings,
    user: User,
    vendor: str,
    state: str,
    *,
    completion: str | None = None,
    code: str | None = None,
    move_existing: bool = False,
    now: datetime | None = None,
) -> LinkOutcome:
    """The athlete who started a link finishes it with their own authenticated request.

    Proof that this is the flow they consented in, unless already given: ``completion`` (what
    the callback answered a browser without the cookie) or ``code`` (an app that caught the
    vendor's redirect itself, before any browser brought it here). ``move_existing`` confirms
    taking the vendor account over from another athlete. Any failed attempt cancels the link,
    so neither a guess nor a stranger gets a second try.
    """
    pending = _pending(session, vendor, state)
    name = VENDOR_NAMES.get(vendor, vendor)
    if pending.used_at is not None:
        raise BadRequest("this link was already used: start linking again")
    if pending.expires_at < utcnow():
        raise BadRequest("this link expired: start linking again")
    if pending.user_id != user.id:
        _end(pending)
        log.warning("link state of user %s presented by user %s: cancelled", pending.user_id, user.id)
        return LinkOutcome(
            vendor,
            "refused",
            error=Forbidden(
                f"this {name} link was started by another perfhub account; it is cancelled and "
                f"nothing was linked. If you did not start it, someone tried to link your {name} "
                "account to theirs."
            ),
        )
    move_existing = move_existing or pending.move_existing
    box = SecretBox(settings.resolved_secret_key())
    if pending.held_tokens is not None:  # proven before: only the move was waiting
        tokens = base.TokenSet.from_dict(json.loads(box.open(pending.held_tokens)))
        vendor_user_id = pending.held_vendor_user_id
        return _link(
            session, settings, pending, state, tokens, vendor_user_id, move_existing=move_existing, now=now
        )
    if pending.returned_at is not None:
        held = box.open(pending.held_code) if pending.held_code else None
        proven = _matches(completion, pending.completion_hash) or (
            code is not None and held is not None and hmac.compare_digest(code, held)
        )
    else:
        held, proven = code, code is not None
    if not proven or held is None:
        _end(pending)
        return LinkOutcome(
            vendor,
            "refused",
            error=BadRequest(
                f"this {name} link cannot be completed without the completion the callback "
                "answered (or the vendor's code): it is cancelled, start linking again"
            ),
        )
    pending.returned_at = pending.returned_at or utcnow()
    return _exchange_and_link(session, settings, pending, state, held, move_existing=move_existing, now=now)


def _exchange_and_link(
    session: Session,
    settings: Settings,
    pending: OAuthState,
    state: str,
    code: str,
    *,
    move_existing: bool,
    now: datetime | None,
) -> LinkOutcome:
    """Exchange the code for tokens and learn who the athlete is at the vendor, then link."""
    vendor = pending.vendor
    config = _config(settings, vendor)
    box = SecretBox(settings.resolved_secret_key())
    verifier = box.open(pending.code_verifier) if pending.code_verifier else None
    try:
        tokens = base.exchange_code(http_client(), config, code, redirect_uri(settings, vendor), verifier)
        client = make_client(vendor, tokens.access_token, config)
        vendor_user_id = str(client.vendor_user_id()) if hasattr(client, "vendor_user_id") else None
    except base.VendorError as exc:
        _end(pending)  # the code is spent at the vendor either way
        return LinkOutcome(
            vendor, "refused", error=BadRequest(f"{vendor} refused the authorization code: {exc}")
        )
    return _link(
        session, settings, pending, state, tokens, vendor_user_id, move_existing=move_existing, now=now
    )


def _link(
    session: Session,
    settings: Settings,
    pending: OAuthState,
    state: str,
    tokens: base.TokenSet,
    vendor_user_id: str | None,
    *,
    move_existing: bool,
    now: datetime | None,
) -> LinkOutcome:
    """Store the tokens (encrypted) on the starter's connection and queue the backfill of the
    last :data:`LINK_BACKFILL_DAYS` days ending on the athlete's local date at ``now`` — unless
    the vendor account is live on another athlete and the move is not confirmed: then the
    tokens are held, sealed, for the confirmation, and the answer is a 409 asking for it."""
    vendor = pending.vendor
    name = VENDOR_NAMES.get(vendor, vendor)
    box = SecretBox(settings.resolved_secret_key())
    holder = None
    if vendor_user_id is not None:  # Google Health names nobody: its accounts cannot be told apart
        holder = session.scalar(
            select(VendorConnection)
            .where(
                VendorConnection.vendor == vendor,
                VendorConnection.vendor_user_id == vendor_user_id,
                VendorConnection.status.in_(LIVE_STATUSES),
                VendorConnection.user_id != pending.user_id,
            )
            .with_for_update()
        )
    if holder is not None and not move_existing:
        if pending.held_tokens is None:  # asking again does not make the tokens live longer
            pending.expires_at = utcnow() + HELD_FOR
        pending.held_code = None
        pending.completion_hash = None
        pending.held_tokens = box.seal(json.dumps(tokens.to_dict()))
        pending.held_vendor_user_id = vendor_user_id
        return LinkOutcome(
            vendor,
            "refused",
            error=Conflict(
                f"this {name} account is linked to another perfhub athlete. To move it to you, "
                f"confirm within {int(HELD_FOR.total_seconds() // 60)} minutes: their link is "
                "revoked and they are told so",
                reason=ACCOUNT_LINKED_ELSEWHERE,
                confirm={
                    "method": "POST",
                    "path": f"/api/v1/connections/{vendor}/complete",
                    "body": {"state": state, "moveExisting": True},
                },
            ),
        )
    if holder is not None:
        _revoke(holder, "moved", f"stopped: the {name} account was linked to another athlete")
        # Not revoked at the vendor: WHOOP revokes per account and app, which would cut the new
        # link too. Forgetting the old tokens is what stops the previous holder's ingest.
        log.info("%s account moved from connection %s to user %s", vendor, holder.id, pending.user_id)
        session.flush()  # the holder stops being live before the new link is: the index holds
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
    connection.status_reason = None
    connection.revoked_at = None
    connection.vendor_user_id = vendor_user_id
    # Always the real time, whatever ``now`` says: it tells this link's backfill from an
    # earlier link's, whose chunks may still be in flight.
    connection.linked_at = utcnow()
    _end(pending)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        # Another athlete linked the same account in a concurrent request (the index decides).
        raise Conflict(
            f"this {name} account was just linked to another athlete: start linking again"
        ) from exc
    user = session.get(User, pending.user_id)
    assert user is not None
    request_backfill(session, connection, local_today(user.tz, now))
    return LinkOutcome(vendor, "linked")


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
        connection.backfill_resume_at = None


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
            connection.status_reason = "refresh_refused"
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
    _revoke(connection, "unlinked", "stopped: the connection was unlinked")


def _revoke(connection: VendorConnection, reason: str, backfill_reason: str) -> None:
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
