"""The link backfill in the production shape: API, ingest, normalize and insights as separate
processes on PostgreSQL + NATS JetStream, the Oura fake over real HTTP.

These processes read the real clock, so the fake holds nights around any "today" and the
assertions use the window the API recorded at link time: the test passes at any hour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import nats
import pytest
from sqlalchemy import func, select
from tests.conftest import NATS_URL, Deployment, Harness, deployment_env
from tests.fakes import serve
from tests.fakes.oura import FakeOura, sleep_doc

from perfhub.core.db import session_scope
from perfhub.core.outbox import BACKFILL_REQUESTED, OutboxRow, publish
from perfhub.pipeline.runtime import Runtime
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, RawEvent
from perfhub.settings import Settings

pytestmark = [pytest.mark.backends("postgres"), pytest.mark.postgres, pytest.mark.nats]
FIRST_READINESS_S = 60.0


@pytest.fixture
def oura() -> FakeOura:
    fake = FakeOura()
    user = fake.add_user()
    today = datetime.now(UTC).date()
    for back in range(-1, 95):  # tomorrow too: the athlete's zone may be a day ahead of ours
        day = (today - timedelta(days=back)).isoformat()
        fake.put(user, "sleep", sleep_doc(day, id=f"n-{back}", average_hrv=45.0 + back % 7 * 3))
    fake.oauth.authorize_as = user
    return fake


@pytest.fixture
def production(
    settings: Settings, nats_names: dict[str, str], oura: FakeOura, tmp_path: Path
) -> Iterator[Harness]:
    with serve(oura.app) as base_url:
        config = oura.config(base_url)
        env = deployment_env(
            settings,
            nats_names,
            PERFHUB_OURA_CLIENT_ID=oura.client_id,
            PERFHUB_OURA_CLIENT_SECRET=oura.client_secret,
            PERFHUB_OURA_AUTHORIZE_URL=config.authorize_url,
            PERFHUB_OURA_TOKEN_URL=config.token_url,
            PERFHUB_OURA_API_BASE=config.api_base,
        )
        deployment = Deployment(env, tmp_path)
        runtime = Runtime.build(settings)  # the test's own view of the database
        try:
            deployment.start({"ingest": "ingest", "normalize": "normalize", "insights": "insights"})
            with httpx.Client(base_url=deployment.base_url, timeout=30) as client:
                yield Harness(client, runtime, deployment)
        finally:
            deployment.stop()
            runtime.close()


def scored_readiness(harness: Harness, user_id: int, day: date) -> bool:
    with harness.runtime.sessions() as session:
        return (
            session.scalar(
                select(ReadinessSnapshotRow.id).where(
                    ReadinessSnapshotRow.user_id == user_id,
                    ReadinessSnapshotRow.date == day,
                    ReadinessSnapshotRow.score.is_not(None),
                )
            )
            is not None
        )


async def stream_and_consumer(names: dict[str, str]) -> tuple[list[str], str | None]:
    connection = await nats.connect(NATS_URL, connect_timeout=3)
    try:
        js = connection.jetstream()
        stream = await js.stream_info(f"{names['stream_prefix']}_CONNECTION_BACKFILL_REQUESTED")
        consumer = await js.consumer_info(stream.config.name or "", f"{names['stream_prefix']}_backfill")
        return list(stream.config.subjects or []), consumer.config.filter_subject
    finally:
        await connection.close()


def test_link_backfills_through_the_workers(
    production: Harness, oura: FakeOura, nats_names: dict[str, str]
) -> None:
    harness = production
    athlete = harness.user()
    auth_url = harness.client.post("/api/v1/connections/oura/link", headers=athlete["headers"]).json()[
        "authUrl"
    ]
    consent = httpx.get(auth_url)  # the athlete consents at Oura, which redirects back
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    clicked = time.monotonic()
    callback = harness.client.get(
        "/api/v1/connections/oura/callback", params={"code": query["code"][0], "state": query["state"][0]}
    )
    assert callback.status_code == 200, callback.text

    seen: list[tuple[str, int]] = []
    first_readiness_s: float | None = None
    backfill: dict[str, Any] = {}
    while time.monotonic() - clicked < FIRST_READINESS_S:
        (connection,) = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
        backfill = connection["backfill"]
        seen.append((backfill["status"], backfill["daysDone"]))
        last_day = date.fromisoformat(backfill["to"])
        if first_readiness_s is None and scored_readiness(harness, athlete["id"], last_day):
            first_readiness_s = time.monotonic() - clicked
        if backfill["status"] != "queued" and backfill["status"] != "running" and first_readiness_s:
            break
        time.sleep(0.05)
    assert first_readiness_s is not None and first_readiness_s < FIRST_READINESS_S
    assert (backfill["status"], backfill["daysDone"], backfill["daysTotal"], backfill["records"]) == (
        "done",
        90,
        90,
        90,
    )
    assert [days for _, days in seen] == sorted(days for _, days in seen)  # progress only grows
    assert {status for status, _ in seen} <= {"queued", "running", "done"}

    harness.drain()
    first, last = date.fromisoformat(backfill["from"]), date.fromisoformat(backfill["to"])
    window = {first + timedelta(days=k) for k in range(90)}
    with harness.runtime.sessions() as session:
        days = set(session.scalars(select(HrvDaily.date).where(HrvDaily.user_id == athlete["id"])))
        landed = int(session.scalar(select(func.count()).select_from(RawEvent)) or 0)
        initial = session.scalars(
            select(OutboxRow).where(OutboxRow.subject == BACKFILL_REQUESTED).order_by(OutboxRow.id)
        ).first()
    assert days == window and landed == 90 and last == max(window)
    assert initial is not None and initial.payload["daysDone"] == 0

    # JetStream has a stream and a durable consumer for the new subject, under this test's prefixes.
    subjects, filter_subject = asyncio.run(stream_and_consumer(nats_names))
    assert subjects == [nats_names["subject_prefix"] + BACKFILL_REQUESTED] == [filter_subject]

    # The first request once more (a redelivery or a replay): relayed, consumed, a no-op.
    with session_scope(harness.runtime.sessions) as session:
        publish(session, BACKFILL_REQUESTED, dict(initial.payload), user_id=athlete["id"])
    harness.drain()
    with harness.runtime.sessions() as session:
        assert int(session.scalar(select(func.count()).select_from(RawEvent)) or 0) == landed

    # Nothing secret reached any process's log.
    secrets = [oura.client_secret, *oura.oauth.access_tokens, *oura.oauth.refresh_tokens]
    assert harness.deployment is not None
    for name, log in harness.deployment.logs.items():
        text = log.read_text(errors="replace")
        assert not [secret for secret in secrets if secret in text], name
