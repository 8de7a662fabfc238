"""Polling: backfill a date range, the history backfill a new link runs through the ingest stage,
and the scheduled reconciliation that catches missed webhooks (and is the only path for Google
Health, whose notifications are unconfirmed)."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.core.db import session_scope, utcnow
from perfhub.core.errors import NotFound
from perfhub.core.outbox import BACKFILL_REQUESTED, Event, dead_letter
from perfhub.pipeline.events import BackfillRequested, publish
from perfhub.settings import Settings
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.service import (
    BACKFILL_ACTIVE,
    access_token,
    backfill_cursor,
    stop_backfill,
)
from perfhub.wearables.vendors import oura
from perfhub.wearables.vendors.errors import InvalidGrant, RateLimited, VendorError
from perfhub.wearables.vendors.http import ApiClient, RetryPolicy
from perfhub.wearables.vendors.registry import (
    ADAPTERS,
    DISPLAY_NAMES,
    http_client,
    make_client,
    retry_policy,
    vendor_config,
)
from perfhub.wearables.webhooks import land_record

log = logging.getLogger(__name__)
CHUNK_DAYS = 30
RECONCILE_DAYS = 3
CONSUMER = "backfill"
# A Retry-After up to this long is waited inside the chunk. A longer one reschedules the chunk:
# the chunk holds its transaction (on SQLite, the one write lock of the whole app) and a worker.
INLINE_RATE_LIMIT_WAIT_S = 2.0
# When a vendor rate-limits without saying for how long.
DEFAULT_RATE_LIMIT_WAIT_S = 60.0
# A backfill that has not moved for this long lost its scheduled resumption (the process that
# held it is gone): ask for its next chunk again.
STALLED_AFTER = timedelta(minutes=10)


def fetch_range(client: ApiClient, vendor: str, start: date, end: date) -> list[tuple[str, dict[str, Any]]]:
    """(kind, record) pairs for ``start..end`` (wake dates, inclusive) from one vendor."""
    if vendor not in ADAPTERS:
        raise ValueError(f"no polling for {vendor}")
    return ADAPTERS[vendor].fetch_range(client, start, end)


def backfill(
    session: Session,
    settings: Settings,
    connection: VendorConnection,
    start: date,
    end: date,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Fetch and land every record of the range; returns how many records were landed."""
    user = session.get(User, connection.user_id)
    assert user is not None
    total_days = (end - start).days + 1
    landed = 0
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + timedelta(days=CHUNK_DAYS - 1))
        landed += land_range(session, settings, connection, user, chunk_start, chunk_end)
        if progress:
            progress((chunk_end - start).days + 1, total_days)
        chunk_start = chunk_end + timedelta(days=1)
    connection.last_sync_at = utcnow()
    return landed


def land_range(
    session: Session,
    settings: Settings,
    connection: VendorConnection,
    user: User,
    start: date,
    end: date,
    *,
    source: str = "poll",
    policy: RetryPolicy | None = None,
) -> int:
    """Fetch ``start..end`` from the vendor, then land every record as a delivery of its own
    (normalize and insights take it from there); returns how many were landed."""
    config = vendor_config(settings, connection.vendor)
    if config is None:
        raise NotFound(f"{connection.vendor} is not configured")
    client = make_client(connection.vendor, access_token(session, settings, connection), config, policy)
    records = fetch_range(client, connection.vendor, start, end)
    for kind, record in records:
        land_record(session, connection.vendor, kind, record, user, source=source)
    return len(records)


def linked_connection(session: Session, user: User, vendor: str) -> VendorConnection:
    connection = session.scalar(
        select(VendorConnection).where(VendorConnection.user_id == user.id, VendorConnection.vendor == vendor)
    )
    if connection is None or connection.status != "linked":
        raise NotFound(f"{user.email} has no linked {vendor} account")
    return connection


def ensure_oura_subscriptions(settings: Settings) -> int:
    """Oura webhook subscriptions exist and are renewed before they expire (per app, not per athlete)."""
    config = vendor_config(settings, "oura")
    token = settings.oura_webhook_verification_token
    if config is None or token is None:
        return 0
    callback = f"{settings.base_url.rstrip('/')}/api/v1/webhooks/oura"
    subscriptions = oura.ensure_subscriptions(
        http_client(), config, callback, token.get_secret_value(), now=datetime.now(UTC)
    )
    return len(subscriptions)


def reconcile_all(sessions: sessionmaker[Session], settings: Settings, days: int = RECONCILE_DAYS) -> int:
    """Re-poll the last few days of every linked connection, one transaction each.

    Landing the same records again is harmless (canonical upserts are idempotent); a vendor
    that keeps failing is logged and retried at the next run, an ``invalid_grant`` marks the
    connection for relinking.
    """
    try:
        ensure_oura_subscriptions(settings)
    except VendorError as exc:
        log.warning("Oura webhook subscriptions could not be renewed: %s", exc)
    with sessions() as session:
        ids = list(session.scalars(select(VendorConnection.id).where(VendorConnection.status == "linked")))
    today = datetime.now(UTC).date()
    landed = 0
    for connection_id in ids:
        with session_scope(sessions) as session:
            connection = session.get(VendorConnection, connection_id)
            if connection is None or connection.status != "linked":
                continue
            try:
                landed += backfill(
                    session, settings, connection, today - timedelta(days=days), today + timedelta(days=1)
                )
            except InvalidGrant:
                log.warning("%s connection %s needs relinking", connection.vendor, connection.id)
            except (VendorError, NotFound) as exc:
                # The retry budget of the client is spent: keep the failure where operators look.
                # In this same transaction, which commits: tokens refreshed before the failure
                # must be kept, since the vendor has already retired the old refresh token.
                log.warning("reconciliation of connection %s failed: %s", connection_id, exc)
                dead_letter(
                    session,
                    "vendor.poll",
                    {"connectionId": connection_id, "days": days},
                    f"{type(exc).__name__}: {exc}",
                    consumer="reconcile",
                    user_id=connection.user_id,
                )
    return landed


# --------------------------------------------------------------------------- link backfill
# A link publishes ``connection.backfill.requested`` (service.request_backfill). Each request
# is one chunk, run in the consumer's transaction: fetch, land, advance the progress columns and
# ask for the next chunk, all committed together. A crash resumes at the first chunk not
# committed, a chunk is never half-counted, and between two chunks normalize and insights run on
# what was landed. Chunks go newest first, so the first alone gives a (provisional) score; the
# recompute costs the same in either order since readiness windows only look back
# (bench_link_backfill: 180 snapshot writes for 90 days in both orders).


def next_chunk(connection: VendorConnection) -> tuple[date, date] | None:
    """The wake dates of the next chunk (newest first), or None when the backfill is complete."""
    first, last = connection.backfill_from, connection.backfill_to
    if first is None or last is None:
        return None
    chunk_end = last - timedelta(days=connection.backfill_days_done or 0)
    if chunk_end < first:
        return None
    return max(first, chunk_end - timedelta(days=CHUNK_DAYS - 1)), chunk_end


def days_total(connection: VendorConnection) -> int:
    if connection.backfill_from is None or connection.backfill_to is None:
        return 0
    return (connection.backfill_to - connection.backfill_from).days + 1


def _is_current(connection: VendorConnection, request: BackfillRequested) -> bool:
    """This link's backfill where it stands (not a duplicate, a replay, or an earlier link's)."""
    return (
        connection.linked_at == request.linked_at
        and (connection.backfill_days_done or 0) == request.days_done
        and connection.backfill_status in (*BACKFILL_ACTIVE, "failed")
    )


def run_chunk(session: Session, settings: Settings, request: BackfillRequested, event: Event) -> None:
    """Land the chunk ``request`` asks for (``event``, its delivery, for a dead letter)."""
    # Locked for the chunk: a duplicate request waits, then finds the chunk done; a refresh of
    # a rotating token cannot race another; unlink and relink wait for the chunk to commit.
    connection = session.scalar(
        select(VendorConnection)
        .where(VendorConnection.id == request.connection_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if connection is None or not _is_current(connection, request):
        log.debug("backfill request %s is not current; ignored", event.id)
        return
    name = DISPLAY_NAMES.get(connection.vendor, connection.vendor)
    if connection.status != "linked":
        # Unlinking stops the backfill itself; this is a refusal seen by another path.
        stop_backfill(connection, f"stopped: {name} needs to be linked again")
        return
    chunk = next_chunk(connection)
    if chunk is None:
        _finish(connection)
        return
    user = session.get(User, connection.user_id)
    assert user is not None  # the connection goes with its athlete (ON DELETE CASCADE)
    now = utcnow()
    connection.backfill_resume_at = None  # this is the resumption (a new wait sets it again)
    if connection.backfill_status != "running":
        if connection.backfill_status == "failed":
            log.info("backfill of connection %s resumes at day %s", connection.id, request.days_done)
        connection.backfill_status = "running"
        connection.backfill_started_at = connection.backfill_started_at or now
        connection.backfill_finished_at = None
    usual = retry_policy()
    inline = min(INLINE_RATE_LIMIT_WAIT_S, usual.max_retry_after_s)
    policy = dataclasses.replace(usual, max_retry_after_s=inline)
    done, total = connection.backfill_days_done or 0, days_total(connection)
    try:
        landed = land_range(session, settings, connection, user, *chunk, source="backfill", policy=policy)
    except RateLimited as exc:
        _defer(session, connection, exc.retry_after, f"{done} of {total} days fetched")
        return
    except InvalidGrant:
        # The link is dead (access_token marked it): only relinking helps, which starts anew.
        stop_backfill(connection, f"{name} refused perfhub's authorization: link {name} again")
        return
    except (VendorError, NotFound) as exc:
        reason = f"{name} failed after {done} of {total} days: {exc}"
        log.warning("backfill of connection %s failed: %s", connection.id, reason)
        stop_backfill(connection, reason)
        # As reconciliation does: where operators look, and `perfhub dlq replay` resumes here.
        dead_letter(
            session,
            BACKFILL_REQUESTED,
            request.to_payload(),
            f"{type(exc).__name__}: {exc}",
            consumer=CONSUMER,
            user_id=connection.user_id,
            outbox_id=event.id,
            headers=event.headers,
        )
        return
    connection.backfill_days_done = done + (chunk[1] - chunk[0]).days + 1
    connection.backfill_records = (connection.backfill_records or 0) + landed
    connection.backfill_error = None
    connection.last_sync_at = utcnow()
    if next_chunk(connection) is None:
        _finish(connection)
    else:
        publish(session, backfill_cursor(connection))


def _finish(connection: VendorConnection) -> None:
    connection.backfill_status = "done"
    connection.backfill_error = None
    connection.backfill_finished_at = utcnow()
    connection.backfill_resume_at = None


def _defer(session: Session, connection: VendorConnection, retry_after: float | None, progress: str) -> None:
    """Wait out a long rate limit without holding anything: the chunk is asked for again once
    the vendor's window has passed — by this process, or, should it stop meanwhile, by the
    sweep of another (:func:`resume_stalled`), which finds the time in ``backfill_resume_at``."""
    wait = retry_after if retry_after is not None else DEFAULT_RATE_LIMIT_WAIT_S
    due = utcnow() + timedelta(seconds=wait)
    name = DISPLAY_NAMES.get(connection.vendor, connection.vendor)
    connection.backfill_error = f"{name} rate limit: {progress}, resuming at {due:%H:%M:%S} UTC"
    connection.backfill_resume_at = due
    log.info("backfill of connection %s rate limited by %s for %.0fs", connection.id, name, wait)
    key, cursor = _database_key(session.get_bind().engine), backfill_cursor(connection)
    # Only once the chunk's transaction has committed: a rollback leaves the request redelivered.
    sa_event.listen(session, "after_commit", lambda _s: DEFERRED.add(key, due, cursor), once=True)


def _database_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _engine(sessions: sessionmaker[Session]) -> Engine:
    bind = sessions.kw["bind"]
    return bind if isinstance(bind, Engine) else bind.engine


class Deferred:
    """Backfills waiting out a rate limit in this process: (database, connection) → when and
    which request to publish. Several databases can share a process (tests, tools)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, int], tuple[datetime, BackfillRequested]] = {}

    def add(self, key: str, due: datetime, cursor: BackfillRequested) -> None:
        with self._lock:
            self._waiting[(key, cursor.connection_id)] = (due, cursor)

    def waiting(self, key: str) -> set[int]:
        with self._lock:
            return {connection_id for (db, connection_id) in self._waiting if db == key}

    def pop_due(self, key: str, now: datetime) -> list[BackfillRequested]:
        with self._lock:
            due = [k for k, (when, _) in self._waiting.items() if k[0] == key and when <= now]
            return [self._waiting.pop(k)[1] for k in due]


DEFERRED = Deferred()


def resume_due(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """Ask again for the chunks whose rate limit has passed; returns how many were asked for."""
    now = now or utcnow()
    cursors = DEFERRED.pop_due(_database_key(_engine(sessions)), now)
    if not cursors:
        return 0
    published = 0
    with session_scope(sessions) as session:
        for cursor in cursors:
            connection = session.get(VendorConnection, cursor.connection_id)
            if connection is not None and connection.status == "linked" and _is_current(connection, cursor):
                publish(session, cursor)
                # Asked: no other process's sweep need ask again, for a stall period at least.
                connection.backfill_resume_at = None
                connection.updated_at = now
                published += 1
    return published


def resume_stalled(
    sessions: sessionmaker[Session], now: datetime | None = None, stalled_after: timedelta = STALLED_AFTER
) -> int:
    """Backfills whose process has gone: ask again for the next chunk of every one that waited
    out a rate limit until ``backfill_resume_at`` (now past), or that has not moved for
    ``stalled_after``; and take over the waits not yet over, so that :func:`resume_due` asks on
    time. Waits this process holds are left to it. A request too many is harmless (it finds
    its chunk done), so several workers may all do this; returns how many were asked for."""
    now = now or utcnow()
    key = _database_key(_engine(sessions))
    published = 0
    with session_scope(sessions) as session:
        waiting = DEFERRED.waiting(key)
        candidates = session.scalars(
            select(VendorConnection).where(
                VendorConnection.status == "linked",
                VendorConnection.backfill_status.in_(BACKFILL_ACTIVE),
                or_(
                    VendorConnection.backfill_resume_at.is_not(None),
                    VendorConnection.updated_at < now - stalled_after,
                ),
            )
        ).all()
        for connection in candidates:
            if connection.id in waiting:
                continue
            resume_at = connection.backfill_resume_at
            if resume_at is not None and resume_at > now:
                DEFERRED.add(key, resume_at, backfill_cursor(connection))
                continue
            publish(session, backfill_cursor(connection))
            connection.backfill_resume_at = None
            connection.updated_at = now  # asked: not stalled again before another full period
            published += 1
    return published
