"""The embedded bus over a real database: crash recovery, retries, dead letters, idempotence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.conftest import Harness, auth

from perfhub.app import create_app
from perfhub.core.db import session_scope
from perfhub.core.embedded_bus import EmbeddedBus
from perfhub.core.outbox import DeadLetter, Event, OutboxDelivery, publish
from perfhub.readings.models import HrvDaily
from perfhub.readings.service import land
from perfhub.settings import Settings

DAY = (date.today() - timedelta(days=1)).isoformat()


# The embedded bus only (the JetStream bus has tests of its own).
pytestmark = pytest.mark.backends("sqlite", "postgres")


def _body(user_id: int) -> dict[str, object]:
    return {"userId": user_id, "date": DAY, "rMSSD": 50.0, "vendor": "oura"}


def test_events_committed_before_a_crash_are_replayed_on_start(settings: Settings) -> None:
    # First process: the API accepts, but dies before its consumers run.
    first = create_app(settings, run_workers=False)
    with TestClient(first) as client:
        harness = Harness(client, first.state.runtime)
        athlete, ingest = harness.user(), harness.service_token()
        assert client.post("/api/v1/ingest/hrv", json=_body(athlete["id"]), headers=ingest).status_code == 202
        assert harness.count(HrvDaily) == 0
    # Second process: starting replays the outbox.
    second = create_app(settings)
    with TestClient(second) as client:
        harness = Harness(client, second.state.runtime)
        harness.drain()
        assert harness.count(HrvDaily) == 1
        rows = client.get(
            "/api/v1/hrv/daily", params={"from": DAY, "to": DAY}, headers=auth(athlete["token"])
        )
        assert [r["rMSSD"] for r in rows.json()] == [50.0]


def test_a_crash_inside_a_consumer_loses_nothing_and_duplicates_nothing(harness: Harness) -> None:
    athlete = harness.user()
    bus: EmbeddedBus = harness.runtime.bus
    bus.stop()
    calls = {"n": 0}
    original = bus.consumers[0].handler

    def crashing_once(session: Session, events: Sequence[Event]) -> None:
        original(session, events)  # writes rows, then "crashes" before commit
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated crash after writing")

    bus.consumers[0].handler = crashing_once
    bus.base_backoff_s = 0.0
    with session_scope(harness.runtime.sessions) as session:
        for offset in range(3):
            payload = {
                **_body(athlete["id"]),
                "date": (date.today() - timedelta(days=offset + 1)).isoformat(),
                "capturedAt": "2026-01-01T00:00:00+00:00",
            }
            land(session, source="api", kind="hrv", vendor="oura", user_id=athlete["id"], payload=payload)
    bus.drain()
    assert harness.count(HrvDaily) == 3
    with harness.runtime.sessions() as session:
        statuses = session.scalars(
            select(OutboxDelivery.status).where(OutboxDelivery.consumer == "normalize")
        )
        assert set(statuses) == {"done"}


def test_malformed_landed_payload_is_dead_lettered_with_reason(harness: Harness) -> None:
    athlete = harness.user()
    with session_scope(harness.runtime.sessions) as session:
        land(
            session,
            source="api",
            kind="hrv",
            vendor="oura",
            user_id=athlete["id"],
            payload={"userId": athlete["id"], "date": "not-a-date", "vendor": "oura"},
        )
        land(
            session,
            source="api",
            kind="hrv",
            vendor="oura",
            user_id=athlete["id"],
            payload={**_body(athlete["id"]), "capturedAt": "2026-01-01T00:00:00+00:00"},
        )
    harness.drain()
    assert harness.count(HrvDaily) == 1  # the good one in the same batch still lands
    with harness.runtime.sessions() as session:
        dead = session.scalars(select(DeadLetter)).all()
    assert len(dead) == 1
    assert dead[0].consumer == "normalize" and "date" in dead[0].reason and dead[0].user_id == athlete["id"]


def test_transient_failures_retry_then_dead_letter(harness: Harness) -> None:
    bus: EmbeddedBus = harness.runtime.bus
    bus.stop()
    bus.base_backoff_s = 0.0
    seen: list[int] = []

    def always_fails(session: Session, events: Sequence[Event]) -> None:
        seen.extend(e.id for e in events)
        raise ConnectionError("vendor down")

    bus.subscribe("flaky", ["test.subject"], always_fails)
    with session_scope(harness.runtime.sessions) as session:
        publish(session, "test.subject", {"n": 1})
    bus.drain()
    assert len(seen) == bus.max_attempts
    with harness.runtime.sessions() as session:
        dead = session.scalars(select(DeadLetter).where(DeadLetter.consumer == "flaky")).one()
    assert "vendor down" in dead.reason and dead.attempts == bus.max_attempts


def test_rolled_back_transactions_publish_nothing(harness: Harness) -> None:
    bus: EmbeddedBus = harness.runtime.bus
    bus.stop()
    received: list[Event] = []
    bus.subscribe("probe", ["probe.subject"], lambda session, events: received.extend(events))
    try:
        with session_scope(harness.runtime.sessions) as session:
            publish(session, "probe.subject", {"n": 1})
            raise ValueError("abort")
    except ValueError:
        pass
    with session_scope(harness.runtime.sessions) as session:
        publish(session, "probe.subject", {"n": 2})
    bus.drain()
    assert [e.payload for e in received] == [{"n": 2}]
