"""Polling: backfill a date range, and the scheduled reconciliation that catches missed webhooks
(and is the only path for Google Health, whose notifications are unconfirmed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.core.bus import dead_letter
from perfhub.core.db import session_scope, utcnow
from perfhub.core.errors import NotFound
from perfhub.ingest.webhooks import land_record
from perfhub.settings import Settings
from perfhub.vendors import base, google, oura, whoop
from perfhub.vendors.connections import access_token
from perfhub.vendors.models import VendorConnection
from perfhub.vendors.registry import http_client, make_client, vendor_config

log = logging.getLogger(__name__)
CHUNK_DAYS = 30
RECONCILE_DAYS = 3


def fetch_range(
    client: base.ApiClient, vendor: str, start: date, end: date
) -> list[tuple[str, dict[str, Any]]]:
    """(kind, record) pairs for ``start..end`` (wake dates, inclusive) from one vendor."""
    if isinstance(client, oura.OuraClient):
        return [("sleep", record) for record in client.main_sleeps(start, end)]
    if isinstance(client, whoop.WhoopClient):
        # WHOOP pages by instant: pad a day each side so nights crossing midnight are included.
        lo = datetime.combine(start - timedelta(days=1), time(), UTC)
        hi = datetime.combine(end + timedelta(days=1), time(), UTC)
        return [("sleep", s) for s in client.list_sleeps(lo, hi)] + [
            ("recovery", r) for r in client.list_recoveries(lo, hi)
        ]
    if isinstance(client, google.GoogleHealthClient):
        return [(google.DAILY_HRV, point) for point in client.daily_hrv(start, end)]
    raise ValueError(f"no polling for {vendor}")


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
    config = vendor_config(settings, connection.vendor)
    if config is None:
        raise NotFound(f"{connection.vendor} is not configured")
    user = session.get(User, connection.user_id)
    assert user is not None
    total_days = (end - start).days + 1
    landed = 0
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + timedelta(days=CHUNK_DAYS - 1))
        client = make_client(connection.vendor, access_token(session, settings, connection), config)
        for kind, record in fetch_range(client, connection.vendor, chunk_start, chunk_end):
            land_record(session, connection.vendor, kind, record, user, source="poll")
            landed += 1
        if progress:
            progress((chunk_end - start).days + 1, total_days)
        chunk_start = chunk_end + timedelta(days=1)
    connection.last_sync_at = utcnow()
    return landed


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
    except base.VendorError as exc:
        log.warning("Oura webhook subscriptions could not be renewed: %s", exc)
    with sessions() as session:
        ids = list(session.scalars(select(VendorConnection.id).where(VendorConnection.status == "linked")))
    today = datetime.now(UTC).date()
    landed = 0
    for connection_id in ids:
        try:
            with session_scope(sessions) as session:
                connection = session.get(VendorConnection, connection_id)
                if connection is None or connection.status != "linked":
                    continue
                try:
                    landed += backfill(
                        session, settings, connection, today - timedelta(days=days), today + timedelta(days=1)
                    )
                except base.InvalidGrant:
                    log.warning("%s connection %s needs relinking", connection.vendor, connection.id)
        except (base.VendorError, NotFound) as exc:
            # The retry budget of the client is spent: keep the failure where operators look.
            log.warning("reconciliation of connection %s failed: %s", connection_id, exc)
            with session_scope(sessions) as session:
                connection = session.get(VendorConnection, connection_id)
                dead_letter(
                    session,
                    "vendor.poll",
                    {"connectionId": connection_id, "days": days},
                    f"{type(exc).__name__}: {exc}",
                    consumer="reconcile",
                    user_id=connection.user_id if connection else None,
                )
    return landed
