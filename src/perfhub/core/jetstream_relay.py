"""The outbox relay: publishes committed outbox rows to JetStream.

Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of processes can relay; while
NATS is down rows simply wait. A row is marked published only once JetStream has acknowledged
it (a crash in between publishes it again, and the duplicate window drops the copy).
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.db import one_of, utcnow
from perfhub.core.jetstream import JetStream, wait_any, wait_or_stop
from perfhub.core.metrics import RELAY_ERRORS, RELAY_PUBLISHED
from perfhub.core.outbox import Event, OutboxRow

log = logging.getLogger(__name__)


class OutboxRelay:
    """Publishes committed outbox rows; any number of relays may run side by side."""

    def __init__(self, bus: JetStream, sessions: sessionmaker[Session], batch_size: int = 500) -> None:
        self.bus = bus
        self.sessions = sessions
        self.batch_size = batch_size
        self.wake = asyncio.Event()

    def _claim(self, session: Session) -> list[Event]:
        outbox = cast(Table, OutboxRow.__table__)
        rows = session.execute(
            select(outbox.c.id, outbox.c.subject, outbox.c.payload, outbox.c.headers, outbox.c.created_at)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            session.close()  # nothing claimed: end the transaction in this same thread hop
        return [Event.from_row(row) for row in rows]

    def _mark_published(self, session: Session, ids: list[int]) -> None:
        outbox = cast(Table, OutboxRow.__table__)
        try:
            session.execute(
                update(outbox)
                .where(one_of(outbox.c.id, ids, session.get_bind().dialect.name))
                .values(published_at=utcnow())
            )
            session.commit()
        finally:
            session.close()

    async def relay_once(self) -> int:
        session = self.sessions()
        try:
            events = await asyncio.to_thread(self._claim, session)
            if events:
                # Every message must be acked before the rows are marked.
                await self.bus.publish_events(events)
                await asyncio.to_thread(self._mark_published, session, [event.id for event in events])
                RELAY_PUBLISHED.inc(len(events))
            return len(events)
        except BaseException:
            await asyncio.to_thread(session.close)  # rolls back: the rows are claimable again
            raise

    async def run(self, stop: asyncio.Event, idle_s: float = 0.1) -> None:
        failures = 0
        while not stop.is_set():
            try:
                published = await self.relay_once()
                failures = 0
            except Exception as exc:
                RELAY_ERRORS.inc()
                failures += 1
                delay = min(5.0, 0.2 * 2**failures)
                log.warning("outbox relay: %s: %s (retrying in %.1fs)", type(exc).__name__, exc, delay)
                await wait_or_stop(stop, delay)
                continue
            if published == 0:
                self.wake.clear()
                await wait_any(stop, self.wake, idle_s)
