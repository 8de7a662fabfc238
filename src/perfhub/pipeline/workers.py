"""The production processes' bus side: relay, stage consumers and periodic gauges.

Used by ``perfhub worker STAGE`` and, with NATS configured, by ``perfhub serve`` (which
relays the API's outbox and, without ``--no-workers``, runs every stage in-process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.jetstream import JetStream, wait_or_stop
from perfhub.core.jetstream_consumer import StageConsumer
from perfhub.core.jetstream_relay import OutboxRelay
from perfhub.core.metrics import (
    INSIGHTS_COVERAGE,
    INSIGHTS_NIGHTS_ARRIVED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    STAGE_UP,
)
from perfhub.core.outbox import OutboxRow, outbox_age
from perfhub.core.signing import Signer
from perfhub.pipeline.runtime import BACKFILL_RESUME_POLL_S, BACKFILL_STALL_SWEEP_S, WEEKLY_SWEEP_S
from perfhub.pipeline.stages import consumers
from perfhub.readiness.service import coverage_counts
from perfhub.settings import Settings
from perfhub.wearables.backfill import resume_due, resume_stalled

log = logging.getLogger(__name__)
GAUGE_INTERVAL_S = 15.0


class BusRuntime:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        stages: list[str],
        *,
        database_gauges: bool = True,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.bus = JetStream(settings, Signer.from_settings(settings))
        self.relay = OutboxRelay(self.bus, sessions, settings.relay_batch_size)
        self.stages = stages
        # Gauges read from the shared database (backlog, coverage) are the same figure in every
        # process: one process reports them (the API's), or dashboards would add them up.
        self.database_gauges = database_gauges
        self.consumers = [StageConsumer(self.bus, spec, sessions, settings) for spec in consumers(stages)]
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _after_commit(self, session: Session) -> None:
        # Wake the relay at once instead of waiting for its next poll.
        if session.info.get("perfhub_published") and self._loop is not None:
            self._loop.call_soon_threadsafe(self.relay.wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        event.listen(self.sessions, "after_commit", self._after_commit)
        await self.bus.connect()
        self._tasks.append(asyncio.create_task(self.relay.run(self.stop_event), name="relay"))
        for consumer in self.consumers:
            self._tasks.append(asyncio.create_task(consumer.run(self.stop_event), name=consumer.spec.name))
        self._tasks.append(asyncio.create_task(self._gauges(), name="gauges"))
        if "insights" in self.stages:
            self._tasks.append(asyncio.create_task(self._catch_up_readiness(), name="readiness-upgrade"))
            self._tasks.append(asyncio.create_task(self._make_due_weeks(), name="weekly-insights"))
        if "ingest" in self.stages:
            self._tasks.append(asyncio.create_task(self._resume_backfills(), name="backfill-resume"))
        if "ingest" in self.stages and self.settings.reconcile_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._reconcile(), name="reconcile"))

    async def stop(self) -> None:
        """Graceful: consumers finish the batch in hand, the relay its round; then drain."""
        self.stop_event.set()
        self.report_up()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if event.contains(self.sessions, "after_commit", self._after_commit):
            event.remove(self.sessions, "after_commit", self._after_commit)
        await self.bus.close()

    async def _catch_up_readiness(self) -> None:
        """Once at start: the readiness history of a new algorithm version (readiness.upgrade)."""
        from perfhub.readiness.upgrade import catch_up

        try:
            await asyncio.to_thread(catch_up, self.sessions)
        except Exception:  # the next start tries again; `perfhub recompute` does it by hand
            log.exception("recomputing readiness history under the new algorithm failed")

    async def _make_due_weeks(self) -> None:
        """Last week's insights, made as each athlete's Monday morning comes (docs/weekly.md#when);
        every insights worker sweeps, and a week two of them make at once is one upsert."""
        from perfhub.insights.service import make_due_weeks

        while not self.stop_event.is_set():
            try:
                await asyncio.to_thread(make_due_weeks, self.sessions)
            except Exception as exc:
                log.warning("making the weekly insights failed: %s", exc)
            await wait_or_stop(self.stop_event, WEEKLY_SWEEP_S)

    async def _reconcile(self) -> None:
        from perfhub.wearables.backfill import reconcile_all

        while not self.stop_event.is_set():
            await wait_or_stop(self.stop_event, self.settings.reconcile_interval_s)
            if self.stop_event.is_set():
                return
            try:
                await asyncio.to_thread(reconcile_all, self.sessions, self.settings)
            except Exception as exc:
                log.warning("reconciliation failed: %s", exc)

    async def _resume_backfills(self) -> None:
        """Link backfills this worker deferred for a rate limit, once it has passed; and any
        whose deferral went with a process that stopped (first sweep at start)."""
        sweep_at = 0.0
        while not self.stop_event.is_set():
            await wait_or_stop(self.stop_event, BACKFILL_RESUME_POLL_S)
            if self.stop_event.is_set():
                return
            try:
                await asyncio.to_thread(resume_due, self.sessions)
                if time.monotonic() >= sweep_at:
                    sweep_at = time.monotonic() + BACKFILL_STALL_SWEEP_S
                    await asyncio.to_thread(resume_stalled, self.sessions)
            except Exception as exc:  # the next poll retries
                log.warning("resuming backfills failed: %s", exc)

    @property
    def healthy(self) -> bool:
        return self.bus.connected and all(not t.done() for t in self._tasks)

    def report_up(self) -> None:
        up = 1 if self.healthy and not self.stop_event.is_set() else 0
        for stage in self.stages:
            STAGE_UP.labels(stage).set(up)

    async def _gauges(self) -> None:
        while not self.stop_event.is_set():
            self.report_up()
            try:
                if self.database_gauges:
                    await asyncio.to_thread(self.update_gauges)
                for consumer in self.consumers:
                    await consumer.report_pending()
            except Exception as exc:
                log.debug("gauges: %s", exc)
            await wait_or_stop(self.stop_event, GAUGE_INTERVAL_S)

    def update_gauges(self) -> None:
        with self.sessions() as session:
            waiting, oldest = session.execute(
                select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.published_at.is_(None))
            ).one()
            OUTBOX_BACKLOG.set(waiting or 0)
            OUTBOX_OLDEST_AGE.set(outbox_age(oldest))
            counts = coverage_counts(session)
            INSIGHTS_NIGHTS_ARRIVED.set(counts.arrived)
            if counts.ratio is not None:
                INSIGHTS_COVERAGE.set(counts.ratio)
