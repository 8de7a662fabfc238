"""The process-wide objects of one deployment: engine, sessions and bus, built from Settings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.db import make_engine, make_sessionmaker, utcnow
from perfhub.core.embedded_bus import EmbeddedBus
from perfhub.pipeline.stages import register_consumers
from perfhub.settings import Settings, use_settings
from perfhub.wearables.backfill import resume_due, resume_stalled

log = logging.getLogger(__name__)
# How often deferred backfill chunks are checked for being due, and how often the database is
# searched for backfills whose deferral was lost.
BACKFILL_RESUME_POLL_S = 1.0
# How often last week's summaries are made for athletes whose Monday 06:00 has come: an athlete
# has theirs within this long of it (docs/weekly.md#when).
WEEKLY_SWEEP_S = 600.0
BACKFILL_STALL_SWEEP_S = 60.0


@dataclass
class Runtime:
    """Embedded deployment: ``bus`` runs the consumers in this process. With NATS configured
    the embedded bus has no consumers (``uses_nats``); workers subscribe through JetStream."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: EmbeddedBus
    # "Now" for what depends on the calendar date, such as the days a link backfills (tests
    # fix it so that they pass at any hour).
    clock: Callable[[], datetime] = utcnow
    _stop_reconciler: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        use_settings(settings)
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        bus = EmbeddedBus(
            sessions, poll_interval_s=settings.bus_poll_interval_s, max_attempts=settings.bus_max_attempts
        )
        if not settings.nats_url:
            register_consumers(bus)
        return cls(settings, engine, sessions, bus)

    @property
    def uses_nats(self) -> bool:
        return bool(self.settings.nats_url)

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def bus_ok(self) -> bool:
        """The embedded bus is the outbox table: ready when the database is and, if this
        process runs the consumers, their thread is alive."""
        return self.bus.healthy()

    def start_reconciler(self) -> None:
        """The embedded deployment's schedules, as daemon threads: :func:`reconcile_all` every
        ``reconcile_interval_s``, link backfills resumed once a vendor rate limit has passed, last
        week's insights made as each athlete's Monday morning comes, and once at start the
        readiness history of a new algorithm version."""
        threading.Thread(target=self._resume_backfills, name="perfhub-backfill-resume", daemon=True).start()
        threading.Thread(target=self._catch_up_readiness, name="perfhub-upgrade", daemon=True).start()
        threading.Thread(target=self._make_due_weeks, name="perfhub-weekly", daemon=True).start()
        interval = self.settings.reconcile_interval_s
        if interval <= 0:
            return

        def loop() -> None:
            from perfhub.wearables.backfill import reconcile_all

            while not self._stop_reconciler.wait(interval):
                try:
                    reconcile_all(self.sessions, self.settings)
                    self.bus.wake()
                except Exception:  # keep the schedule alive; the next run retries
                    log.exception("reconciliation failed")

        threading.Thread(target=loop, name="perfhub-reconcile", daemon=True).start()

    def _catch_up_readiness(self) -> None:
        from perfhub.readiness.upgrade import catch_up

        try:
            catch_up(self.sessions)
        except Exception:  # the next start tries again; `perfhub recompute` does it by hand
            log.exception("recomputing readiness history under the new algorithm failed")

    def _make_due_weeks(self) -> None:
        from perfhub.insights.service import make_due_weeks

        # First sweep at once: weeks that became due while nothing ran.
        while True:
            try:
                make_due_weeks(self.sessions)
            except Exception:  # the next sweep retries
                log.exception("making the weekly insights failed")
            if self._stop_reconciler.wait(WEEKLY_SWEEP_S):
                return

    def _resume_backfills(self) -> None:
        sweep_at = 0.0  # first sweep at once: backfills a previous run left waiting
        while not self._stop_reconciler.wait(BACKFILL_RESUME_POLL_S):
            try:
                resume_due(self.sessions)
                if time.monotonic() >= sweep_at:
                    sweep_at = time.monotonic() + BACKFILL_STALL_SWEEP_S
                    resume_stalled(self.sessions)
            except Exception:  # the next poll retries
                log.exception("resuming backfills failed")

    def close(self) -> None:
        self._stop_reconciler.set()
        self.bus.stop()
        self.engine.dispose()
