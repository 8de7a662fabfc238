"""Events: the transactional outbox, its delivery records and the dead-letter store.

A state change and the event it causes are written in one transaction (:func:`publish`).
Each consumer records what it did with a row in ``outbox_delivery`` inside its own
transaction, so a crash anywhere replays only what did not finish and a replay never applies
an event twice. Consumers are idempotent anyway (upserts on natural keys). The runners that
deliver rows live in :mod:`perfhub.core.embedded_bus` and the ``perfhub.core.jetstream*``
modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, Integer, Result, Row, String, Table, Text, and_, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from perfhub.core.db import Base, JsonType, UTCDateTime, utcnow
from perfhub.core.telemetry import headers_for, trace_id
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


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer of one subject; both buses run the same specs."""

    name: str
    subject: str  # logical subject, e.g. "data.normalized"
    handler: Handler


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
        subject=subject, payload=payload, headers={**headers_for(user_id), **(headers or {})}, user_id=user_id
    )
    session.add(row)
    session.info["perfhub_published"] = True
    return row


def publish_many(session: Session, subject: str, events: Iterable[tuple[dict[str, Any], int | None]]) -> None:
    """:func:`publish` for many ``(payload, user_id)`` events of one subject, in one INSERT."""
    now = utcnow()
    rows = [
        {
            "subject": subject,
            "payload": payload,
            "headers": headers_for(user_id),
            "user_id": user_id,
            "created_at": now,
        }
        for payload, user_id in events
    ]
    if not rows:
        return
    # The unit of work orders pending ORM rows (say, the athlete) before their events; this
    # INSERT bypasses it, so those rows go first.
    session.flush()
    insert_rows(session, cast(Table, OutboxRow.__table__), rows)
    session.info["perfhub_published"] = True


def outbox_age(oldest: datetime | None) -> float:
    """Seconds since ``oldest`` (an unpublished row's ``created_at``); 0 when nothing waits."""
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - oldest).total_seconds())


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
    # Operators find the message (`perfhub dlq list` shows the reason) and its trace from this
    # line. Neither the payload nor the reason is logged: both may quote health values.
    log.warning(
        "dead letter on %s (consumer %s, attempt %d); trace %s",
        subject,
        consumer or "-",
        attempts,
        trace_id(headers) or "-",
    )
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
