"""The embedded bus: delivers committed outbox rows to the registered consumers in a
background thread of this process (the deployment without NATS).

Each delivery is recorded in ``outbox_delivery`` inside the consumer's own transaction, so a
crash replays only what did not finish; a failing event is retried with backoff and
dead-lettered once its attempts are spent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from opentelemetry.trace import SpanKind
from sqlalchemy import Row, Select, Table, and_, event, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.db import session_scope, utcnow
from perfhub.core.delivery import deliver, failure_reason, is_final, payload_user
from perfhub.core.outbox import Event, Handler, OutboxDelivery, OutboxRow, dead_letter, mark_deliveries
from perfhub.core.telemetry import message_spans

log = logging.getLogger(__name__)


@dataclass
class Consumer:
    name: str
    subjects: tuple[str, ...]
    handler: Handler
    batch_size: int = 100
    # Everything below this outbox id is settled for this consumer (an in-memory cursor).
    low_watermark: int = 0


class EmbeddedBus:
    """Runs registered consumers over the outbox in a background thread of this process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        poll_interval_s: float = 1.0,
        max_attempts: int = 5,
        base_backoff_s: float = 0.5,
    ) -> None:
        self.sessions = sessions
        self.poll_interval_s = poll_interval_s
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.consumers: list[Consumer] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        event.listen(sessions, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop("perfhub_published", False):
            self._wake.set()

    def subscribe(self, name: str, subjects: Iterable[str], handler: Handler, batch_size: int = 100) -> None:
        self.consumers.append(Consumer(name, tuple(subjects), handler, batch_size))

    def wake(self) -> None:
        self._wake.set()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perfhub-bus", daemon=True)
        self._thread.start()

    def healthy(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                worked = self.run_once()
            except Exception:  # keep the loop alive; the failing row is retried later
                log.exception("embedded bus pass failed")
                worked = False
            if not worked:
                self._wake.wait(self.poll_interval_s)

    # -- delivery --------------------------------------------------------------------------
    def drain(self, max_passes: int = 10_000) -> None:
        """Deliver until nothing is due (tests, CLI commands and ``demo`` use this)."""
        for _ in range(max_passes):
            if not self.run_once():
                return

    def run_once(self) -> bool:
        """One pass over every consumer; True if anything was delivered."""
        with self._lock:
            worked = False
            for consumer in self.consumers:
                worked |= self._deliver_batch(consumer)
            return worked

    def pending(self) -> int:
        """Deliveries still to make, over all consumers (for progress and metrics)."""
        with self.sessions() as session:
            total = 0
            for consumer in self.consumers:
                query = self._due_query(consumer).with_only_columns(func.count()).order_by(None)
                total += int(session.scalar(query) or 0)
            return total

    def _due_rows(self, session: Session, consumer: Consumer, limit: int) -> Sequence[Row[Any]]:
        return session.execute(self._due_query(consumer).limit(limit)).all()

    def _due_query(self, consumer: Consumer) -> Select[Any]:
        # Plain columns, not ORM objects: the rows only become Events.
        outbox, deliveries = cast(Table, OutboxRow.__table__), cast(Table, OutboxDelivery.__table__)
        settled = exists().where(
            and_(
                deliveries.c.consumer == consumer.name,
                deliveries.c.outbox_id == outbox.c.id,
                or_(
                    deliveries.c.status.in_(("done", "dead")),
                    deliveries.c.next_attempt_at > utcnow(),
                ),
            )
        )
        return (
            select(outbox.c.id, outbox.c.subject, outbox.c.payload, outbox.c.headers, outbox.c.created_at)
            .where(outbox.c.id > consumer.low_watermark)
            .where(outbox.c.subject.in_(consumer.subjects))
            .where(~settled)
            .order_by(outbox.c.id)
        )

    def _deliver_batch(self, consumer: Consumer) -> bool:
        with self.sessions() as session:
            rows = self._due_rows(session, consumer, consumer.batch_size)
            events = [Event.from_row(row) for row in rows]
            session.rollback()
        if not events:
            self._advance_watermark(consumer)
            return False

        def handle(batch: Sequence[Event]) -> None:
            # As the JetStream consumers do: each message in its own trace, and what is
            # published about an athlete continues the trace of the message about them.
            spans = message_spans(
                [(ev.headers, payload_user(ev.payload)) for ev in batch],
                f"{batch[0].subject} process",
                SpanKind.CONSUMER,
                **{"messaging.system": "perfhub-outbox", "messaging.consumer.group.name": consumer.name},
            )
            with spans, session_scope(self.sessions) as session:
                consumer.handler(session, batch)
                mark_deliveries(session, consumer.name, [ev.id for ev in batch], "done")

        for ev, exc in deliver(events, handle).failed:
            self._record_failure(consumer, ev, exc)
        return True

    def _record_failure(self, consumer: Consumer, ev: Event, exc: Exception) -> None:
        reason = failure_reason(exc)
        log.warning("consumer %s failed on event %s (%s): %s", consumer.name, ev.id, ev.subject, reason)
        with session_scope(self.sessions) as session:
            delivery = session.get(OutboxDelivery, (consumer.name, ev.id))
            if delivery is None:
                delivery = OutboxDelivery(consumer=consumer.name, outbox_id=ev.id, status="retry", attempts=0)
                session.add(delivery)
            delivery.attempts += 1
            delivery.last_error = reason
            if is_final(exc, delivery.attempts, self.max_attempts):
                delivery.status = "dead"
                delivery.next_attempt_at = None
                dead_letter(
                    session,
                    ev.subject,
                    ev.payload,
                    reason,
                    consumer=consumer.name,
                    user_id=payload_user(ev.payload),
                    outbox_id=ev.id,
                    attempts=delivery.attempts,
                    headers=ev.headers,
                )
            else:
                delivery.status = "retry"
                backoff = self.base_backoff_s * (2 ** (delivery.attempts - 1))
                delivery.next_attempt_at = utcnow() + timedelta(seconds=backoff)

    def _advance_watermark(self, consumer: Consumer) -> None:
        # Nothing due: everything up to the lowest unsettled row for this consumer is done.
        with self.sessions() as session:
            unsettled = exists().where(
                and_(
                    OutboxDelivery.consumer == consumer.name,
                    OutboxDelivery.outbox_id == OutboxRow.id,
                    OutboxDelivery.status.in_(("done", "dead")),
                )
            )
            lowest = session.scalar(
                select(OutboxRow.id)
                .where(OutboxRow.id > consumer.low_watermark)
                .where(OutboxRow.subject.in_(consumer.subjects))
                .where(~unsettled)
                .order_by(OutboxRow.id)
                .limit(1)
            )
            if lowest is None:
                # Only jump past rows old enough that no transaction can still be committing
                # a lower id (PostgreSQL assigns ids before commit, not in commit order).
                newest = session.scalar(
                    select(OutboxRow.id)
                    .where(OutboxRow.created_at < utcnow() - timedelta(seconds=60))
                    .order_by(OutboxRow.id.desc())
                    .limit(1)
                )
                consumer.low_watermark = max(consumer.low_watermark, newest or 0)
            else:
                consumer.low_watermark = max(consumer.low_watermark, lowest - 1)
            session.rollback()
