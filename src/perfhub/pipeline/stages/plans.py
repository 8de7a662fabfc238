"""The plans consumer: readiness updates → adjustment proposals (runs in the insights stage)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from perfhub.core.outbox import Event
from perfhub.pipeline.events import InsightsUpdated
from perfhub.plans.service import refresh_proposals


def handle_insights_updated(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``insights.updated``: the sessions on the days whose readiness changed get
    their proposals made or remade, one pass for the whole batch."""
    days: dict[int, set[date]] = {}
    for event in events:
        update = InsightsUpdated.from_payload(event.payload)
        days.setdefault(update.user_id, set()).update(update.dates)
    refresh_proposals(session, days)
