"""Linking an athlete to a vendor account: the OAuth link flow from ``authUrl`` to the stored
tokens, bound to the browser that started it (docs/http-api.md, connections)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.core.crypto import SecretBox
from perfhub.core.dates import local_today
from perfhub.core.db import utcnow
from perfhub.core.errors import BadRequest, Conflict, Forbidden, PerfhubError
from perfhub.settings import Settings
from perfhub.wearables.models import LIVE_STATUSES, OAuthState, VendorConnection
from perfhub.wearables.service import configured, request_backfill, revoke_connection, store_tokens
from perfhub.wearables.vendors.errors import VendorError
from perfhub.wearables.vendors.oauth import TokenSet, new_pkce_pair
from perfhub.wearables.vendors.registry import DISPLAY_NAMES, adapter, http_client, make_client

# How long a link waits for its starter once the vendor has sent a browser back: about as long
# as the vendor's code lives (Oura: 10 minutes), and the tokens of a move awaiting confirmation
# are kept no longer.
HELD_FOR = timedelta(minutes=10)
# Expired states are deleted after this (kept a little for "already used" / "expired" answers).
STATE_KEPT_AFTER_EXPIRY = timedelta(days=1)
LINK_ATTEMPTS_KEPT = timedelta(days=400)
# The ``reason`` of the 409 when a vendor account is another athlete's.
ACCOUNT_LINKED_ELSEWHERE = "vendor_account_linked_elsewhere"
log = logging.getLogger(__name__)


def redirect_uri(settings: Settings, vendor: str) -> str:
    return f"{settings.base_url.rstrip('/')}/api/v1/connections/{vendor}/callback"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


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
    config = configured(settings, vendor)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier, challenge = new_pkce_pair() if config.uses_pkce else (None, None)
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
    auth_url = adapter(vendor).authorization_url(config, state, redirect_uri(settings, vendor), challenge)
    return StartedLink(auth_url=auth_url, browser_nonce=nonce)


# What a state holds for its completion; forgotten a day after it expires.
_HELD = (
    OAuthState.code_verifier,
    OAuthState.held_code,
    OAuthState.held_tokens,
    OAuthState.completion_hash,
    OAuthState.browser_hash,
    OAuthState.held_vendor_user_id,
)


def _forget_old_states(session: Session) -> None:
    """A day after a state expires, forget what it may hold (a sealed verifier, code or tokens
    nobody completed, and the hashes that would complete it); keep the bare attempt — who,
    which vendor, when, whether it was used — for ``LINK_ATTEMPTS_KEPT``, so that the pilot
    report can count failed links over its period; then drop it."""
    now = utcnow()
    session.execute(
        update(OAuthState)
        .where(
            OAuthState.expires_at < now - STATE_KEPT_AFTER_EXPIRY,
            or_(*(column.is_not(None) for column in _HELD)),
        )
        .values(
            code_verifier=None,
            held_code=None,
            held_tokens=None,
            completion_hash=None,
            browser_hash=None,
            held_vendor_user_id=None,
        )
    )
    session.execute(delete(OAuthState).where(OAuthState.expires_at < now - LINK_ATTEMPTS_KEPT))


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
    name = DISPLAY_NAMES.get(vendor, vendor)
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
        tokens = TokenSet.from_dict(json.loads(box.open(pending.held_tokens)))
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
    config = configured(settings, vendor)
    box = SecretBox(settings.resolved_secret_key())
    verifier = box.open(pending.code_verifier) if pending.code_verifier else None
    try:
        tokens = adapter(vendor).exchange(
            http_client(), config, code, redirect_uri(settings, vendor), verifier
        )
        vendor_user_id = adapter(vendor).vendor_user_id(make_client(vendor, tokens.access_token, config))
    except VendorError as exc:
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
    tokens: TokenSet,
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
    name = DISPLAY_NAMES.get(vendor, vendor)
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
        revoke_connection(holder, "moved", f"stopped: the {name} account was linked to another athlete")
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
    store_tokens(connection, tokens, box)
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
