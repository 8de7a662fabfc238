"""Events: the transactional outbox and the embedded (in-process) consumer runner.

A state change and the event it causes are written in one transaction (:func:`publish`).
In the embedded deployment :class:`EmbeddedBus` delivers committed outbox rows to the
registered consumers; each delivery is recorded in ``outbox_delivery`` inside the consumer's
own transaction, so a crash anywhere replays only what did not finish and a replay never
applies an event twice. Consumers are idempotent anyway (upserts on natural keys).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Result,
    Row,
    Select,
    String,
    Table,
    Text,
    and_,
    event,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from perfhub.core.db import Base, JsonType, UTCDateTime, session_scope, utcnow
from perfhub.core.telemetry import current_headers
from perfhub.core.upsert import insert_rows, insert_statement, parameters

log = logging.getLogger(__name__)

VENDOR_DATA_RECEIVED = "vendor.data.received"
DATA_NORMALIZED = "data.normalized"
INSIGHTS_UPDATED = "insights.updated"
WEBHOOK_RECEIVED = "vendor.webhook.received"
# A link asks the ingest stage for the athlete's history; each chunk it lands asks for the next.
BACKFILL_REQUESTED = "connection.backfill.requested"
SUBJECTS = (WEBHOOK_RECEIVED, BACKFILL_REQUESTED, VENDOR_DATA_RECEIVED, DATA_NORMALIZED, INSIGHTS_UPDATED)


class OutboxRow(Base):
    __tablename__ = "outbox"
    # The relay looks for unpublished rows on every commit; keep that a tiny index scan.
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    headers: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the production relay once JetStream has acknowledged the message.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OutboxDelivery(Base):
    """What one embedded consumer did with one outbox row."""

    __tablename__ = "outbox_delivery"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # done | retry | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DeadLetter(Base):
    """An event or vendor payload that could not be processed, with the reason."""

    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(100))
    consumer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True, index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    headers: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@dataclass(frozen=True)
class Event:
    id: int
    subject: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: OutboxRow | Row[*tuple[Any, ...]]) -> Event:
        return cls(row.id, row.subject, dict(row.payload), dict(row.headers or {}), row.created_at)


Handler = Callable[[Session, Sequence[Event]], None]


class PermanentError(Exception):
    """A consumer's verdict that retrying cannot help: dead-letter at once with this reason."""


def publish(
    session: Session,
    subject: str,
    payload: dict[str, Any],
    *,
    user_id: int | None = None,
    headers: dict[str, str] | None = None,
) -> OutboxRow:
    """Record an event in the caller's transaction; it is delivered only if that commits.

    The active trace context rides along in the headers so consumers continue the trace.
    """
    row = OutboxRow(
        subject=subject, payload=payload, headers={**current_headers(), **(headers or {})}, user_id=user_id
    )
    session.add(row)
    session.info["perfhub_published"] = True
    return row


def publish_many(session: Session, subject: str, events: Iterable[tuple[dict[str, Any], int | None]]) -> None:
    """:func:`publish` for many ``(payload, user_id)`` events of one subject, in one INSERT."""
    headers = current_headers()
    now = utcnow()
    rows = [
        {"subject": subject, "payload": payload, "headers": headers, "user_id": user_id, "created_at": now}
        for payload, user_id in events
    ]
    if not rows:
        return
    # The unit of work orders pending ORM rows (say, the athlete) before their events; this
    # INSERT bypasses it, so those rows go first.
    session.flush()
    insert_rows(session, cast(Table, OutboxRow.__table__), rows)
    session.info["perfhub_published"] = True


def dead_letter(
    session: Session,
    subject: str,
    payload: dict[str, Any],
    reason: str,
    *,
    consumer: str | None = None,
    user_id: int | None = None,
    outbox_id: int | None = None,
    attempts: int = 0,
    headers: dict[str, str] | None = None,
) -> DeadLetter:
    row = DeadLetter(
        subject=subject,
        consumer=consumer,
        payload=payload,
        reason=reason[:4000],
        user_id=user_id,
        outbox_id=outbox_id,
        attempts=attempts,
        headers=headers or {},
    )
    session.add(row)
    return row


_DELIVERY_COLUMNS = ("consumer", "outbox_id", "status", "attempts", "updated_at")


@lru_cache(maxsize=8)
def _mark_statement(dialect: str, claim: bool) -> Any:
    table = cast(Table, OutboxDelivery.__table__)
    stmt = insert_statement(dialect, table, _DELIVERY_COLUMNS)
    upsert = stmt.on_conflict_do_update(
        index_elements=["consumer", "outbox_id"],
        set_={
            "status": stmt.excluded.status,
            "attempts": table.c.attempts + 1,
            "next_attempt_at": None,
            "updated_at": stmt.excluded.updated_at,
        },
        # Not NOT IN: an expanding parameter cannot go with SQLite's executemany.
        where=and_(table.c.status != "done", table.c.status != "dead") if claim else None,
    )
    return upsert.returning(table.c.outbox_id) if claim else upsert


def _record_deliveries(
    session: Session, consumer: str, event_ids: Sequence[int], status: str, claim: bool
) -> Result[Any]:
    now = utcnow()
    # Distinct (one statement may not update a row twice) and sorted, so that concurrent
    # consumers lock shared rows in the same order.
    rows = [
        {"consumer": consumer, "outbox_id": event_id, "status": status, "attempts": 1, "updated_at": now}
        for event_id in sorted(set(event_ids))
    ]
    dialect = session.get_bind().dialect.name
    table = cast(Table, OutboxDelivery.__table__)
    return session.execute(
        _mark_statement(dialect, claim), parameters(dialect, table, _DELIVERY_COLUMNS, rows)
    )


def mark_deliveries(session: Session, consumer: str, event_ids: Sequence[int], status: str) -> None:
    """Record in the handler's own transaction that ``consumer`` settled these events."""
    if event_ids:
        _record_deliveries(session, consumer, event_ids, status, claim=False)


def claim_deliveries(session: Session, consumer: str, event_ids: Sequence[int]) -> set[int]:
    """Record these events ``done`` for ``consumer`` in one statement, before the handler runs
    in the same transaction, and return which of them are ``consumer``'s to handle now (not
    already done or dead). A concurrent claim of the same event waits for this transaction,
    then skips it.
    """
    if not event_ids:
        return set()
    return set(_record_deliveries(session, consumer, event_ids, "done", claim=True).scalars())


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
        try:
            with session_scope(self.sessions) as session:
                consumer.handler(session, events)
                self._mark(session, consumer, events, "done")
        except Exception as exc:
            if len(events) == 1:
                self._record_failure(consumer, events[0], exc)
            else:
                # Isolate the poison event: the rest of the batch goes through one by one.
                for single in events:
                    try:
                        with session_scope(self.sessions) as session:
                            consumer.handler(session, [single])
                            self._mark(session, consumer, [single], "done")
                    except Exception as single_exc:
                        self._record_failure(consumer, single, single_exc)
        return True

    def _mark(self, session: Session, consumer: Consumer, events: Sequence[Event], status: str) -> None:
        mark_deliveries(session, consumer.name, [ev.id for ev in events], status)

    def _record_failure(self, consumer: Consumer, ev: Event, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        permanent = isinstance(exc, PermanentError)
        log.warning("consumer %s failed on event %s (%s): %s", consumer.name, ev.id, ev.subject, reason)
        with session_scope(self.sessions) as session:
            delivery = session.get(OutboxDelivery, (consumer.name, ev.id))
            if delivery is None:
                delivery = OutboxDelivery(consumer=consumer.name, outbox_id=ev.id, status="retry", attempts=0)
                session.add(delivery)
            delivery.attempts += 1
            delivery.last_error = reason
            if permanent or delivery.attempts >= self.max_attempts:
                delivery.status = "dead"
                delivery.next_attempt_at = None
                dead_letter(
                    session,
                    ev.subject,
                    ev.payload,
                    reason,
                    consumer=consumer.name,
                    user_id=ev.payload.get("userId"),
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


def replay_dead_letters(session: Session, dead_letter_id: int | None) -> list[int]:
    """Publish dead letters again as new events (all unreplayed ones when no id is given)."""
    from perfhub.core.errors import Conflict, NotFound

    query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None)).order_by(DeadLetter.id)
    if dead_letter_id is not None:
        row = session.get(DeadLetter, dead_letter_id)
        if row is None:
            raise NotFound(f"no dead letter with id {dead_letter_id}")
        if row.replayed_at is not None:
            raise Conflict(f"dead letter {dead_letter_id} was replayed at {row.replayed_at.isoformat()}")
        query = query.where(DeadLetter.id == dead_letter_id)
    replayed = []
    for row in session.scalars(query):
        publish(
            session,
            row.subject,
            dict(row.payload),
            user_id=row.user_id,
            headers={**(row.headers or {}), "Perfhub-Replay-Of": str(row.id)},
        )
        row.replayed_at = utcnow()
        replayed.append(row.id)
    return replayed
