"""The ingest stage: fetch what vendor notifications point at, and a new link's history."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from perfhub.core.outbox import Event
from perfhub.pipeline.events import BackfillRequested, WebhookReceived
from perfhub.settings import get_settings
from perfhub.wearables.backfill import run_chunk
from perfhub.wearables.webhooks import apply_notification


def handle_webhook(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``vendor.webhook.received``."""
    settings = get_settings()
    for event in events:
        apply_notification(session, settings, WebhookReceived.from_payload(event.payload), event)


def handle_backfill_requested(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``connection.backfill.requested``: one chunk per event."""
    settings = get_settings()
    requests = [(BackfillRequested.from_payload(event.payload), event) for event in events]
    # Connection order: two workers holding batches with the same connections lock them alike.
    for request, event in sorted(requests, key=lambda pair: (pair[0].connection_id, pair[1].id)):
        run_chunk(session, settings, request, event)
