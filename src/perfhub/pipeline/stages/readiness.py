"""The insights stage: new canonical data → readiness snapshots and ``insights.updated``; new
workouts (and sessions the athlete logged) → completed sessions first, so their load is in the
same recompute."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from perfhub.core.db import utcnow
from perfhub.core.metrics import INGEST_LAG
from perfhub.core.outbox import Event
from perfhub.pipeline.events import DataNormalized
from perfhub.plans.matching import match_days
from perfhub.readiness.service import refresh

# The signals whose days may turn workouts into completed sessions, or change which ones stand.
MATCHED_SIGNALS = frozenset({"workout", "training"})


def handle_normalized(session: Session, events: Sequence[Event]) -> None:
    """Consumer of ``data.normalized``: one computation per athlete per batch, from the
    earliest day any of the batch's events changed."""
    normalized = [DataNormalized.from_payload(event.payload) for event in events]
    since: dict[int, date] = {}
    for item in normalized:
        if item.dates:
            since[item.user_id] = min(since.get(item.user_id, item.dates[0]), *item.dates)
    matched: dict[int, set[date]] = {}
    for item in normalized:
        if MATCHED_SIGNALS.intersection(item.signals):
            matched.setdefault(item.user_id, set()).update(item.dates)
    # Before readiness: a completion made (or moved, or removed) here changes the load of its day,
    # which may be a day the event did not name (a workout moved by its vendor).
    for user_id, days in match_days(session, {u: sorted(ds) for u, ds in matched.items()}).items():
        since[user_id] = min(since.get(user_id, min(days)), *days)
    if not since:
        return
    refresh(session, since)
    received = [item.received_at for item in normalized if item.received_at is not None]
    if received:
        # Observed once the snapshots are committed: the lag is until an athlete can see them.
        sa_event.listen(session, "after_commit", lambda _s: _observe_lag(received), once=True)


def _observe_lag(received: list[datetime]) -> None:
    now = utcnow()
    for stamp in received:
        INGEST_LAG.observe(max(0.0, (now - stamp).total_seconds()))
