"""The production bus: outbox relay → NATS JetStream → durable pull consumers.

This module holds the connection, the streams (one per subject in :data:`SUBJECTS`, plus the
dead-letter stream) and signed publishing; :mod:`perfhub.core.jetstream_relay` publishes
committed outbox rows and :mod:`perfhub.core.jetstream_consumer` runs the stage consumers.

* Every message body is signed (Ed25519, :mod:`perfhub.core.signing`); consumers verify and
  dead-letter anything unsigned or forged.
* A message carries ``Nats-Msg-Id`` = outbox id, so a row published twice (a crash between
  the publish ack and marking the row) is dropped by JetStream's duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry.trace import Span, Status, StatusCode

from perfhub.core.outbox import SUBJECTS, Event
from perfhub.core.signing import Signer
from perfhub.core.telemetry import start_producer_span, tracing_enabled
from perfhub.settings import Settings

log = logging.getLogger(__name__)
MSG_ID_HEADER = "Nats-Msg-Id"
DUPLICATE_WINDOW_S = 600.0
PUBLISH_TIMEOUT_S = 5.0
TRACE_HEADERS = ("traceparent", "tracestate")


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
        span, continued = start_producer_span(
            event.headers,
            f"{event.subject} publish",
            **{"messaging.system": "nats", "messaging.destination.name": subject},
        )
        headers.update(continued)
        try:
            acked = await self.js.publish_async(subject, body, headers=headers)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.end()
            raise
        # The span lasts until JetStream acknowledges (or refuses) the message.
        acked.add_done_callback(lambda done: _end_on_ack(span, done))
        return acked

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


def _end_on_ack(span: Span, done: asyncio.Future[PubAck]) -> None:
    if done.cancelled() or done.exception() is not None:
        span.set_status(Status(StatusCode.ERROR, "not acknowledged"))
    span.end()


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
