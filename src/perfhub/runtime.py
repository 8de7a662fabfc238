"""The process-wide objects of one deployment: engine, sessions and bus, built from Settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.bus import EmbeddedBus
from perfhub.core.db import make_engine, make_sessionmaker
from perfhub.pipeline import register_consumers
from perfhub.settings import Settings, use_settings


@dataclass
class Runtime:
    """Embedded deployment: ``bus`` runs the consumers in this process. With NATS configured
    the embedded bus has no consumers (``uses_nats``); workers subscribe through JetStream."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: EmbeddedBus
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
        """The embedded deployment's schedule for :func:`reconcile_all` (a daemon thread)."""
        interval = self.settings.reconcile_interval_s
        if interval <= 0:
            return

        def loop() -> None:
            from perfhub.vendors.backfill import reconcile_all

            while not self._stop_reconciler.wait(interval):
                try:
                    reconcile_all(self.sessions, self.settings)
                    self.bus.wake()
                except Exception:  # keep the schedule alive; the next run retries
                    logging.getLogger(__name__).exception("reconciliation failed")

        threading.Thread(target=loop, name="perfhub-reconcile", daemon=True).start()

    def close(self) -> None:
        self._stop_reconciler.set()
        self.bus.stop()
        self.engine.dispose()
