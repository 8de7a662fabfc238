"""The production bus: outbox relay → NATS JetStream → durable pull consumers.

* The relay publishes committed outbox rows with ``Nats-Msg-Id`` = outbox id, so a row
  published twice (a crash between the publish ack and marking the row) is dropped by
  JetStream's duplicate window. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any
  number of processes can relay; while NATS is down rows simply wait.
* Every message body is signed (Ed25519, :mod:`perfhub.core.signing`); consumers verify and
  dead-letter anything unsigned or forged.
* Consumers are durable pull consumers with explicit ack. A batch is handled in one
  transaction that also records each event as settled for that consumer, so a redelivery
  (after a crash before the ack) is skipped rather than applied twice. A failing event is
  isolated, retried with backoff (nak with delay), and after ``max_deliver`` attempts moved to
  the dead-letter subject and table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    PubAck,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry.trace import SpanKind
from sqlalchemy import Table, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.bus import (
    SUBJECTS,
    Event,
    Handler,
    OutboxRow,
    PermanentError,
    claim_deliveries,
    dead_letter,
    mark_deliveries,
)
from perfhub.core.db import one_of, session_scope, utcnow
from perfhub.core.metrics import CONSUMER_PENDING, DEAD_LETTERS, EVENTS_PROCESSED, FORGED_MESSAGES
from perfhub.core.outage import database_unavailable
from perfhub.core.signing import SignatureInvalid, Signer
from perfhub.core.telemetry import current_headers, span_from, tracing_enabled
from perfhub.settings import Settings

log = logging.getLogger(__name__)
MSG_ID_HEADER = "Nats-Msg-Id"
DATABASE_RETRY_S = 1.0  # how often a consumer holding a batch asks whether the database is back
DUPLICATE_WINDOW_S = 600.0
PUBLISH_TIMEOUT_S = 5.0
TRACE_HEADERS = ("traceparent", "tracestate")


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    subject: str  # logical subject, e.g. "data.normalized"
    handler: Handler


class JetStream:
    """One NATS connection, the streams, and signed publishing."""

    def __init__(self, settings: Settings, signer: Signer) -> None:
        assert settings.nats_url, "JetStream needs PERFHUB_NATS_URL"
        self.settings = settings
        self.signer = signer
        self.prefix = settings.nats_subject_prefix
        self.nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    # -- names -------------------------------------------------------------------------------
    def subject(self, logical: str) -> str:
        return self.prefix + logical

    def dlq_subject(self, logical: str) -> str:
        return self.prefix + "dlq." + logical

    def stream_name(self, logical: str) -> str:
        return f"{self.settings.nats_stream_prefix}_{logical.replace('.', '_').upper()}"

    @property
    def dlq_stream(self) -> str:
        return f"{self.settings.nats_stream_prefix}_DLQ"

    def durable(self, consumer: str) -> str:
        return f"{self.settings.nats_stream_prefix}_{consumer}".replace(".", "_")

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "connect() first"
        return self._js

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    # -- lifecycle ---------------------------------------------------------------------------
    async def connect(self) -> None:
        async def _disconnected() -> None:
            log.warning("NATS disconnected; outbox rows wait until it is back")

        async def _reconnected() -> None:
            log.info("NATS reconnected")

        self.nc = await nats.connect(
            str(self.settings.nats_url),
            name=self.settings.service_name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=3,
            disconnected_cb=_disconnected,
            reconnected_cb=_reconnected,
        )
        self._js = self.nc.jetstream(timeout=5)
        await self.ensure_streams()

    async def close(self) -> None:
        # Every batch in hand is finished and acked by now, so a plain close loses nothing
        # (a drain can wait on pull subscriptions' pending fetch requests for a long time).
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.flush(), 2)
            await self.nc.close()

    async def ensure_streams(self) -> None:
        """Create the streams if missing; update them if their config drifted. Idempotent."""
        configs = [
            StreamConfig(
                name=self.stream_name(logical),
                subjects=[self.subject(logical)],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
                max_age=7 * 86400.0,
            )
            for logical in SUBJECTS
        ]
        configs.append(
            StreamConfig(
                name=self.dlq_stream,
                subjects=[self.prefix + "dlq.>"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=30 * 86400.0,
            )
        )
        for config in configs:
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                await self.js.update_stream(config)

    async def delete_streams(self) -> None:
        """Remove this deployment's streams (tests clean up with this)."""
        for name in [*(self.stream_name(s) for s in SUBJECTS), self.dlq_stream]:
            with contextlib.suppress(NotFoundError):
                await self.js.delete_stream(name)

    # -- publishing --------------------------------------------------------------------------
    def envelope(
        self, event_id: int, logical: str, payload: dict[str, Any], created_at: datetime | None
    ) -> bytes:
        body = {
            "id": event_id,
            "subject": logical,
            "createdAt": created_at.isoformat() if created_at else None,
            "payload": payload,
        }
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

    async def publish_events(self, events: Sequence[Event]) -> None:
        """Publish every event and wait until JetStream has acknowledged them all."""
        traced = tracing_enabled()
        acks: list[asyncio.Future[PubAck]] = []
        try:
            # Sent back to back, acknowledged together: no task or timer per message.
            for event in events:
                acks.append(await self._send(event, traced))
            await asyncio.wait_for(asyncio.gather(*acks), PUBLISH_TIMEOUT_S)
        finally:
            for ack in acks:  # after a failure, stop waiting for the rest
                ack.cancel()

    async def _send(self, event: Event, traced: bool) -> asyncio.Future[PubAck]:
        body = self.envelope(event.id, event.subject, event.payload, event.created_at)
        subject = self.subject(event.subject)
        headers = {**self.signer.sign(body), MSG_ID_HEADER: str(event.id)}
        if not traced:
            headers.update((k, v) for k, v in event.headers.items() if k in TRACE_HEADERS)
            return await self.js.publish_async(subject, body, headers=headers)
        with span_from(
            event.headers,
            f"{event.subject} publish",
            SpanKind.PRODUCER,
            **{"messaging.system": "nats", "messaging.destination.name": subject},
        ):
            headers.update(current_headers())
            return await self.js.publish_async(subject, body, headers=headers)

    async def publish_dead_letter(
        self, logical: str, body: bytes, headers: dict[str, str], reason: str
    ) -> None:
        await self.js.publish(
            self.dlq_subject(logical),
            body,
            headers={**headers, "Perfhub-Dead-Letter-Reason": reason[:500]},
            timeout=5,
        )

    async def pending(self, consumer: str, logical: str) -> int:
        info = await self.js.consumer_info(self.stream_name(logical), self.durable(consumer))
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


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
                failures += 1
                delay = min(5.0, 0.2 * 2**failures)
                log.warning("outbox relay: %s: %s (retrying in %.1fs)", type(exc).__name__, exc, delay)
                await wait_or_stop(stop, delay)
                continue
            if published == 0:
                self.wake.clear()
                await _wait_any(stop, self.wake, idle_s)


class StageConsumer:
    """One durable pull consumer running a stage handler over verified message batches."""

    def __init__(
        self, bus: JetStream, spec: ConsumerSpec, sessions: sessionmaker[Session], settings: Settings
    ) -> None:
        self.bus = bus
        self.spec = spec
        self.sessions = sessions
        self.settings = settings

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=self.bus.durable(self.spec.name),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.consumer_ack_wait_s,
            max_deliver=self.settings.consumer_max_deliver,
            max_ack_pending=20_000,
            filter_subject=self.bus.subject(self.spec.subject),
        )
        return await self.bus.js.pull_subscribe(
            self.bus.subject(self.spec.subject),
            durable=self.bus.durable(self.spec.name),
            stream=self.bus.stream_name(self.spec.subject),
            config=config,
        )

    async def run(self, stop: asyncio.Event) -> None:
        # Several pull subscriptions on the one durable: while one batch is in the database,
        # the next is already being fetched and verified. Order does not matter for
        # correctness (versioned upserts; insights lock the athlete).
        await asyncio.gather(*(self._loop(stop) for _ in range(max(1, self.settings.consumer_concurrency))))

    async def _loop(self, stop: asyncio.Event) -> None:
        subscription = await self.subscribe()
        while not stop.is_set():
            try:
                messages = await subscription.fetch(self.settings.worker_batch_size, timeout=0.5)
            except (TimeoutError, NatsTimeout):
                continue
            except Exception as exc:  # NATS restarting: the client reconnects by itself
                log.warning("%s fetch failed: %s", self.spec.name, exc)
                await wait_or_stop(stop, 0.5)
                continue
            # A batch in hand is finished even when asked to stop: graceful shutdown.
            try:
                await self.process(messages, stop)
            except Exception as exc:  # never let one batch end the consumer; unacked ones return
                log.warning("%s: batch failed: %s: %s", self.spec.name, type(exc).__name__, exc)

    async def process(self, messages: Sequence[Msg], stop: asyncio.Event | None = None) -> None:
        verified: list[tuple[Msg, Event]] = []
        for message in messages:
            try:
                self.bus.signer.verify(message.headers, message.data)
                verified.append((message, self._decode(message)))
            except SignatureInvalid as exc:
                FORGED_MESSAGES.labels(self.spec.subject).inc()
                await self._dead_letter(message, f"rejected: {exc}")
            except (ValueError, KeyError, TypeError) as exc:
                await self._dead_letter(message, f"malformed envelope: {exc}")
        if not verified:
            return
        while True:
            try:
                await asyncio.to_thread(self._handle, [event for _, event in verified])
                break
            except Exception as exc:
                if database_unavailable(exc):
                    # Not the events' fault: hold them (no redelivery is counted) until the
                    # database is back, then try the same batch again.
                    if await self._await_database([m for m, _ in verified], stop):
                        continue
                    return  # stopping: unacked messages come back after ack_wait
                if len(verified) == 1:
                    await self._failed(*verified[0], exc)
                    return
                for message, event in verified:  # isolate the poison message
                    try:
                        await asyncio.to_thread(self._handle, [event])
                    except Exception as single_exc:
                        await self._failed(message, event, single_exc)
                    else:
                        await message.ack()
                return
        for message, _ in verified:  # an ack is a buffered write: no task per message
            await message.ack()

    async def _await_database(self, messages: Sequence[Msg], stop: asyncio.Event | None) -> bool:
        """Keep ``messages`` in progress until the database answers; False when asked to stop."""
        log.warning("%s: database unreachable; holding %d messages", self.spec.name, len(messages))
        while stop is None or not stop.is_set():
            for message in messages:
                with contextlib.suppress(Exception):  # NATS may be restarting too
                    await message.in_progress()
            if await asyncio.to_thread(self._database_answers):
                log.info("%s: database reachable again", self.spec.name)
                return True
            await asyncio.sleep(DATABASE_RETRY_S)
        return False

    def _database_answers(self) -> bool:
        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def _decode(self, message: Msg) -> Event:
        body = json.loads(message.data)
        if body.get("subject") != self.spec.subject:
            raise ValueError(f"subject {body.get('subject')!r} on {message.subject}")
        created = datetime.fromisoformat(body["createdAt"]) if body.get("createdAt") else None
        headers = {k: v for k, v in (message.headers or {}).items() if k in TRACE_HEADERS}
        return Event(int(body["id"]), body["subject"], dict(body["payload"]), headers, created)

    def _handle(self, events: list[Event]) -> None:
        with span_from(
            events[0].headers,
            f"{self.spec.subject} process",
            SpanKind.CONSUMER,
            **{"messaging.system": "nats", "messaging.consumer.group.name": self.spec.name},
        ) as span:
            span.set_attribute("messaging.batch.message_count", len(events))
            with session_scope(self.sessions) as session:
                claimed = claim_deliveries(session, self.spec.name, [e.id for e in events])
                fresh = [e for e in events if e.id in claimed]
                if fresh:
                    self.spec.handler(session, fresh)
            EVENTS_PROCESSED.labels(self.spec.name).inc(len(fresh))

    async def _failed(self, message: Msg, event: Event, exc: Exception) -> None:
        if database_unavailable(exc):
            await message.nak(delay=DATABASE_RETRY_S)  # cannot even dead-letter now
            return
        reason = f"{type(exc).__name__}: {exc}"
        delivered = message.metadata.num_delivered or 1
        if isinstance(exc, PermanentError) or delivered >= self.settings.consumer_max_deliver:
            await self._dead_letter(message, reason, event)
            return
        backoff = self.settings.consumer_backoff_s
        delay = backoff[min(delivered - 1, len(backoff) - 1)] if backoff else 1.0
        log.warning(
            "%s: event %s failed (attempt %s), retrying in %ss: %s",
            self.spec.name,
            event.id,
            delivered,
            delay,
            reason,
        )
        await message.nak(delay=delay)

    async def _dead_letter(self, message: Msg, reason: str, event: Event | None = None) -> None:
        def _store() -> None:
            with session_scope(self.sessions) as session:
                payload: dict[str, Any]
                if event is not None:
                    payload = event.payload
                else:
                    try:
                        decoded = json.loads(message.data)
                        payload = (
                            decoded.get("payload", decoded) if isinstance(decoded, dict) else {"raw": decoded}
                        )
                    except ValueError:
                        payload = {"raw": message.data.decode("utf-8", "replace")[:10_000]}
                user_id = payload.get("userId") if isinstance(payload.get("userId"), int) else None
                dead_letter(
                    session,
                    self.spec.subject,
                    payload,
                    reason,
                    consumer=self.spec.name,
                    user_id=user_id,
                    outbox_id=event.id if event else None,
                    attempts=message.metadata.num_delivered or 1,
                    headers={k: v for k, v in (message.headers or {}).items() if k in TRACE_HEADERS},
                )
                if event is not None:
                    mark_deliveries(session, self.spec.name, [event.id], "dead")

        await asyncio.to_thread(_store)
        DEAD_LETTERS.labels(self.spec.subject).inc()
        try:
            await self.bus.publish_dead_letter(
                self.spec.subject, message.data, dict(message.headers or {}), reason
            )
        except Exception as exc:  # the table row is the record; the DLQ subject is a copy for tooling
            log.warning("could not copy dead letter to NATS: %s", exc)
        await message.ack()

    async def report_pending(self) -> None:
        try:
            CONSUMER_PENDING.labels(self.spec.name).set(
                await self.bus.pending(self.spec.name, self.spec.subject)
            )
        except Exception as exc:
            log.debug("consumer info unavailable: %s", exc)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
