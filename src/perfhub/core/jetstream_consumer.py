"""Stage consumers: durable JetStream pull consumers running a stage handler.

Explicit ack. A batch is handled in one transaction that also records each event as settled
for that consumer, so a redelivery (after a crash before the ack) is skipped rather than
applied twice. A failing event is isolated (:func:`perfhub.core.delivery.deliver`), retried
with backoff (nak with delay), and after ``max_deliver`` attempts moved to the dead-letter
subject and table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.db import session_scope
from perfhub.core.delivery import deliver, failure_reason, is_final, payload_user
from perfhub.core.jetstream import TRACE_HEADERS, JetStream, wait_or_stop
from perfhub.core.metrics import CONSUMER_PENDING, DEAD_LETTERS, EVENTS_PROCESSED, FORGED_MESSAGES
from perfhub.core.outage import database_unavailable
from perfhub.core.outbox import ConsumerSpec, Event, claim_deliveries, dead_letter, mark_deliveries
from perfhub.core.signing import SignatureInvalid
from perfhub.core.telemetry import message_spans, trace_id
from perfhub.settings import Settings

log = logging.getLogger(__name__)
DATABASE_RETRY_S = 1.0  # how often a consumer holding a batch asks whether the database is back


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
                log.warning(
                    "%s: forged message on %s rejected (%s); trace %s",
                    self.spec.name,
                    self.spec.subject,
                    exc,
                    trace_id(message.headers) or "-",
                )
                await self._dead_letter(message, f"rejected: {exc}")
            except (ValueError, KeyError, TypeError) as exc:
                await self._dead_letter(message, f"malformed envelope: {exc}")
        if not verified:
            return
        while True:
            try:
                outcome = await asyncio.to_thread(
                    deliver, verified, self._handle_pairs, hold=database_unavailable
                )
                break
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                # Not the events' fault: hold them (no redelivery is counted) until the
                # database is back, then try the same batch again.
                if await self._await_database([m for m, _ in verified], stop):
                    continue
                return  # stopping: unacked messages come back after ack_wait
        for (message, event), error in outcome.failed:
            await self._failed(message, event, error)
        for message, _ in outcome.done:  # an ack is a buffered write: no task per message
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

    def _handle_pairs(self, pairs: Sequence[tuple[Msg, Event]]) -> None:
        self._handle([event for _, event in pairs])

    def _handle(self, events: Sequence[Event]) -> None:
        # One CONSUMER span per message, each in its own request's trace, and what the stage
        # publishes about an athlete continues that athlete's trace (not the batch's first).
        with message_spans(
            [(event.headers, payload_user(event.payload)) for event in events],
            f"{self.spec.subject} process",
            SpanKind.CONSUMER,
            **{
                "messaging.system": "nats",
                "messaging.consumer.group.name": self.spec.name,
                "messaging.batch.message_count": str(len(events)),
            },
        ):
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
        reason = failure_reason(exc)
        delivered = message.metadata.num_delivered or 1
        if is_final(exc, delivered, self.settings.consumer_max_deliver):
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
                dead_letter(
                    session,
                    self.spec.subject,
                    payload,
                    reason,
                    consumer=self.spec.name,
                    user_id=payload_user(payload),
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
