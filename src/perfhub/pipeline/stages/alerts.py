"""The alerts consumer: readiness updates → sleep-debt nudges (runs in the insights stage)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from perfhub.alerts.service import nudge_sleep_debt
from perfhub.core.outbox import Event
from perfhub.pipeline.events import InsightsUpdated


def handle_insights_updated(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``insights.updated``, in event order (a nudge counts for the next event)."""
    nudge_sleep_debt(session, [InsightsUpdated.from_payload(event.payload) for event in events])
