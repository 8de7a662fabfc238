"""What follows a readiness update (runs in the insights stage): sleep-debt nudges, plan
adjustment proposals, and the weekly insights of the weeks whose days changed.

One consumer for all three: each ``insights.updated`` is verified, claimed and acknowledged once,
and the domain services run in its one transaction. The consumer keeps the name it had when it only
nudged (``alerts``): deployments already hold its deliveries and durable under that name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from perfhub.alerts.service import nudge_sleep_debt
from perfhub.core.outbox import Event
from perfhub.insights.service import refresh_changed_days
from perfhub.pipeline.events import InsightsUpdated
from perfhub.plans.service import refresh_proposals


def handle_insights_updated(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``insights.updated``, in event order (a nudge counts for the next event);
    then the sessions on the days whose readiness changed get their proposals made or remade,
    one pass for the whole batch, and so do the weekly insights of the weeks those days fall in
    (stored or due ones only: docs/weekly.md#when)."""
    updates = [InsightsUpdated.from_payload(event.payload) for event in events]
    nudge_sleep_debt(session, updates)
    days: dict[int, set[date]] = {}
    for update in updates:
        days.setdefault(update.user_id, set()).update(update.dates)
    refresh_proposals(session, days)
    refresh_changed_days(session, days)
