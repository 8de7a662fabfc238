"""The production deployment under stress: real PostgreSQL, real nats-server, workers as
separate processes. Counts prove that nothing is lost and nothing is duplicated."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy import func, select
from tests.conftest import SECRET, Deployment, Harness, _free_port, deployment_env

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.core.outbox import (
    DATA_NORMALIZED,
    INSIGHTS_UPDATED,
    VENDOR_DATA_RECEIVED,
    DeadLetter,
    OutboxDelivery,
    OutboxRow,
)
from perfhub.core.signing import Signer
from perfhub.pipeline.runtime import Runtime
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, RawEvent
from perfhub.readings.service import land
from perfhub.settings import Settings

pytestmark = [pytest.mark.backends("postgres"), pytest.mark.postgres, pytest.mark.nats]
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def utc_today() -> date:
    """Read per use, not at import: a run that crosses midnight must not test yesterday's today."""
    return datetime.now(UTC).date()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings)
    yield rt
    rt.close()


class PrivateNats:
    """A nats-server of this test's own, so it can be killed and restarted mid-stream."""

    def __init__(self, store: Path) -> None:
        self.port = _free_port()
        self.store = store
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("private nats-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


def make_athletes(runtime: Runtime, count: int) -> list[int]:
    from perfhub.auth.service import create_user

    with session_scope(runtime.sessions) as session:
        return [
            create_user(session, f"a{i}-{time.time_ns()}@example.org", "athlete")[0].id for i in range(count)
        ]


def ingest_token(runtime: Runtime) -> dict[str, str]:
    from perfhub.auth.service import issue_token

    with session_scope(runtime.sessions) as session:
        return {"Authorization": "Bearer " + issue_token(session, "load", None, ("ingest",))}


def post_all(base_url: str, token: dict[str, str], bodies: list[dict[str, Any]], pace_s: float = 0.0) -> int:
    accepted = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for body in bodies:
            for _attempt in range(50):
                try:
                    response = client.post("/api/v1/ingest/hrv", json=body, headers=token)
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                assert response.status_code == 202, response.text
                accepted += 1
                break
            if pace_s:
                time.sleep(pace_s)
    return accepted


def nightly_bodies(athletes: list[int], days: int) -> list[dict[str, Any]]:
    return [
        {
            "userId": athlete,
            "date": (utc_today() - timedelta(days=back)).isoformat(),
            "rMSSD": 40.0 + (athlete + back) % 30,
            "restingHr": 50.0,
            "vendor": "oura",
        }
        for back in range(days - 1, -1, -1)
        for athlete in athletes
    ]


def count(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def assert_exactly_once(runtime: Runtime, athletes: list[int], days: int, posted: int) -> None:
    """Every delivery landed once, was normalised once per consumer, and produced one row per day."""
    assert count(runtime, RawEvent) == posted
    assert count(runtime, OutboxRow, OutboxRow.subject == VENDOR_DATA_RECEIVED) == posted
    assert count(runtime, HrvDaily) == len(athletes) * days
    with runtime.sessions() as session:
        statuses = session.execute(
            select(OutboxDelivery.consumer, OutboxDelivery.status, func.count()).group_by(
                OutboxDelivery.consumer, OutboxDelivery.status
            )
        ).all()
        normalized = session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.subject == DATA_NORMALIZED)
        )
        updated = session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.subject == INSIGHTS_UPDATED)
        )
    by = {(c, s): n for c, s, n in statuses}
    assert normalized and updated
    expected = {
        ("normalize", "done"): posted,
        ("insights", "done"): normalized,
        ("alerts", "done"): updated,
    }
    assert by == expected, by
    assert count(runtime, DeadLetter) == 0
    # Everyone has today's readiness snapshot.
    assert count(runtime, ReadinessSnapshotRow, ReadinessSnapshotRow.date == utc_today()) == len(athletes)


def stream_messages(nats_url: str, stream: str) -> int:
    async def _count() -> int:
        connection = await nats.connect(nats_url)
        try:
            info = await connection.jetstream().stream_info(stream)
            return int(info.state.messages)
        finally:
            await connection.close()

    return asyncio.run(_count())


def metric(port: int, name: str) -> float:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(name))


def test_two_workers_per_stage_share_the_work_without_duplicates(
    settings: Settings, runtime: Runtime, nats_names: dict[str, str], tmp_path: Path
) -> None:
    ports = {name: _free_port() for name in ("n1", "n2", "i1", "i2")}
    deployment = Deployment(deployment_env(settings, nats_names, PERFHUB_WORKER_BATCH_SIZE="10"), tmp_path)
    try:
        deployment.spawn("api", "serve", "--no-workers", "--port", str(deployment.port))
        for name, stage in (("n1", "normalize"), ("n2", "normalize"), ("i1", "insights"), ("i2", "insights")):
            deployment.spawn(name, "worker", stage, "--metrics-port", str(ports[name]))
        deployment.wait_http()
        for name in ports:
            deployment.wait_log(name, "running")
        athletes, days = make_athletes(runtime, 12), 20
        bodies = nightly_bodies(athletes, days)
        posted = post_all(deployment.base_url, ingest_token(runtime), bodies)
        deployment.wait_idle(runtime, timeout=120)
        assert_exactly_once(runtime, athletes, days, posted)
        # The stage's main consumer ("normalize" or "insights"; the insights worker runs "alerts" too).
        shares = {
            name: metric(port, f'perfhub_events_processed_total{{consumer="{stage}"}}')
            for (name, port), stage in zip(
                ports.items(), ("normalize", "normalize", "insights", "insights"), strict=True
            )
        }
        assert shares["n1"] > 0 and shares["n2"] > 0, shares  # both normalize workers took a share
        assert shares["n1"] + shares["n2"] == posted
        assert shares["i1"] > 0 and shares["i2"] > 0, shares
        # The relay published each row once: the stream holds exactly one message per row.
        stream = f"{nats_names['stream_prefix']}_VENDOR_DATA_RECEIVED"
        assert stream_messages(deployment.env["PERFHUB_NATS_URL"], stream) == posted
    finally:
        deployment.stop()


def test_nats_restart_and_worker_sigkill_lose_and_duplicate_nothing(
    settings: Settings, runtime: Runtime, nats_names: dict[str, str], tmp_path: Path
) -> None:
    server = PrivateNats(tmp_path / "jetstream")
    server.start()
    env = deployment_env(
        settings,
        nats_names,
        PERFHUB_NATS_URL=server.url,
        PERFHUB_CONSUMER_ACK_WAIT_S="3",
        PERFHUB_WORKER_BATCH_SIZE="20",
    )
    deployment = Deployment(env, tmp_path)
    try:
        deployment.start()
        athletes, days = make_athletes(runtime, 10), 20
        bodies = nightly_bodies(athletes, days)
        token = ingest_token(runtime)
        result: dict[str, int] = {}
        poster = threading.Thread(
            target=lambda: result.update(posted=post_all(deployment.base_url, token, bodies, pace_s=0.01))
        )
        poster.start()
        time.sleep(1.0)
        server.kill()  # NATS gone mid-stream: the API keeps accepting, rows wait in the outbox
        time.sleep(1.5)
        assert count(runtime, OutboxRow, OutboxRow.published_at.is_(None)) > 0
        server.start()  # same port, same store: streams and consumers survive
        time.sleep(1.0)
        deployment.processes["normalize"].send_signal(signal.SIGKILL)  # mid-batch, no goodbye
        deployment.spawn("normalize2", "worker", "normalize")
        deployment.wait_log("normalize2", "running")
        poster.join(120)
        assert result.get("posted") == len(bodies)
        deployment.wait_idle(runtime, timeout=180)
        assert_exactly_once(runtime, athletes, days, len(bodies))
        stream = f"{nats_names['stream_prefix']}_VENDOR_DATA_RECEIVED"
        assert stream_messages(server.url, stream) == len(bodies)
    finally:
        deployment.stop()
        if server.process and server.process.poll() is None:
            server.kill()


def test_forged_and_unsigned_messages_are_dead_lettered(
    settings: Settings, runtime: Runtime, nats_names: dict[str, str], tmp_path: Path
) -> None:
    metrics_port = _free_port()
    deployment = Deployment(deployment_env(settings, nats_names), tmp_path)
    try:
        deployment.spawn("api", "serve", "--no-workers", "--port", str(deployment.port))
        deployment.spawn("normalize", "worker", "normalize", "--metrics-port", str(metrics_port))
        deployment.spawn("insights", "worker", "insights")
        deployment.wait_http()
        deployment.wait_log("normalize", "running")
        deployment.wait_log("insights", "running")
        athlete = make_athletes(runtime, 1)[0]
        with session_scope(runtime.sessions) as session:
            raw = land(
                session,
                source="api",
                kind="hrv",
                vendor="oura",
                user_id=athlete,
                payload={
                    "userId": athlete,
                    "date": utc_today().isoformat(),
                    "rMSSD": 99.0,
                    "vendor": "oura",
                    "capturedAt": datetime.now(UTC).isoformat(),
                },
            )
            raw_id = raw.id
        # Let the genuine event through first, then attack with copies of it.
        deployment.wait_idle(runtime)
        body = json.dumps(
            {
                "id": 10_000_001,
                "subject": VENDOR_DATA_RECEIVED,
                "createdAt": None,
                "payload": {"rawEventId": raw_id, "userId": athlete},
            }
        ).encode()
        other = Signer.from_settings(Settings(secret_key="not-our-key", database_url="sqlite://"))
        forged_headers = {**other.sign(body), "Perfhub-Key-Id": Signer.from_settings(settings).key_id}

        async def attack() -> None:
            connection = await nats.connect(deployment.env["PERFHUB_NATS_URL"])
            js = connection.jetstream()
            subject = nats_names["subject_prefix"] + VENDOR_DATA_RECEIVED
            await js.publish(subject, body, headers=forged_headers)
            await js.publish(subject, body)  # unsigned
            await connection.close()

        asyncio.run(attack())
        deadline = time.monotonic() + 30
        while count(runtime, DeadLetter) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        with runtime.sessions() as session:
            reasons = sorted(d.reason for d in session.scalars(select(DeadLetter)))
        assert len(reasons) == 2 and all(r.startswith("rejected:") for r in reasons), reasons
        assert any("bad signature" in r for r in reasons) and any("not signed" in r for r in reasons)
        assert metric(metrics_port, "perfhub_forged_messages_total{") == 2
        # A worker reports its own stage and leaves the database's figures to the API.
        served = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert 'perfhub_stage_up{stage="normalize"} 1.0' in served
        assert "perfhub_outbox_backlog" not in served and "perfhub_insights_coverage_ratio" not in served
        assert count(runtime, HrvDaily) == 1  # the forged copies changed nothing
        deployment.wait_log("normalize", "forged message on")  # a warning operators can find
        deployment.wait_log("normalize", "dead letter on")
    finally:
        deployment.stop()


def test_poison_payload_dead_letters_after_max_deliver_and_replays_after_fix(
    settings: Settings, runtime: Runtime, nats_names: dict[str, str], tmp_path: Path
) -> None:
    env = deployment_env(
        settings, nats_names, PERFHUB_CONSUMER_MAX_DELIVER="3", PERFHUB_CONSUMER_BACKOFF_S="[0.2, 0.2]"
    )
    deployment = Deployment(env, tmp_path)
    try:
        deployment.start()
        missing_user = 777_777
        with session_scope(runtime.sessions) as session:
            # Data for an athlete whose account is not there (yet): the upsert breaks the foreign key.
            land(
                session,
                source="import",
                kind="hrv",
                vendor="apple",
                user_id=None,
                payload={
                    "userId": missing_user,
                    "date": utc_today().isoformat(),
                    "sdnn": 45.0,
                    "vendor": "apple",
                    "capturedAt": datetime.now(UTC).isoformat(),
                },
            )
        deadline = time.monotonic() + 60
        while count(runtime, DeadLetter) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        with runtime.sessions() as session:
            dead = session.scalars(select(DeadLetter)).one()
        assert dead.attempts == 3 and dead.consumer == "normalize" and "IntegrityError" in dead.reason
        assert count(runtime, HrvDaily) == 0
        # The fix: the account is restored. Then the operator replays.
        with session_scope(runtime.sessions) as session:
            session.add(User(id=missing_user, email="restored@example.org", role="athlete", name="Restored"))
        cli = subprocess.run(
            [deployment_python(), "-m", "perfhub.cli", "dlq", "list"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        listed = [json.loads(line) for line in cli.stdout.splitlines()]
        assert [d["id"] for d in listed] == [dead.id] and "IntegrityError" in listed[0]["reason"]
        replay = subprocess.run(
            [deployment_python(), "-m", "perfhub.cli", "dlq", "replay", str(dead.id)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert replay.returncode == 0 and json.loads(replay.stdout) == {"replayed": [dead.id]}, replay.stderr
        deployment.wait_idle(runtime)
        assert count(runtime, HrvDaily) == 1
        again = subprocess.run(
            [deployment_python(), "-m", "perfhub.cli", "dlq", "replay", str(dead.id)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 1 and "replayed at" in again.stderr
    finally:
        deployment.stop()


def deployment_python() -> str:
    import sys

    return sys.executable


def test_workers_stop_gracefully_on_sigterm(
    settings: Settings, runtime: Runtime, nats_names: dict[str, str], tmp_path: Path
) -> None:
    deployment = Deployment(deployment_env(settings, nats_names), tmp_path)
    try:
        deployment.start()
        worker = deployment.processes["normalize"]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
        deployment.wait_log("normalize", "worker normalize stopped")
    finally:
        deployment.stop()


def test_worker_needs_nats_and_a_known_stage(settings: Settings, tmp_path: Path) -> None:
    import os
    import sys

    env = {**os.environ, "PERFHUB_DATABASE_URL": settings.database_url, "PERFHUB_SECRET_KEY": SECRET}
    env.pop("PERFHUB_NATS_URL", None)
    no_nats = subprocess.run(
        [sys.executable, "-m", "perfhub.cli", "worker", "normalize"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_nats.returncode == 1 and "PERFHUB_NATS_URL" in no_nats.stderr
    bad_stage = subprocess.run(
        [sys.executable, "-m", "perfhub.cli", "worker", "sleepy"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_stage.returncode == 2 and "unknown stage" in bad_stage.stderr


def test_one_trace_spans_request_and_every_consumer(
    settings: Settings, nats_names: dict[str, str], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind
    from prometheus_client import REGISTRY
    from tests.conftest import NATS_URL

    from perfhub.app import create_app
    from perfhub.core.telemetry import setup_tracing

    exporter = InMemorySpanExporter()
    setup_tracing(settings, exporter)
    production = settings.model_copy(
        update={
            "nats_url": NATS_URL,
            "nats_subject_prefix": nats_names["subject_prefix"],
            "nats_stream_prefix": nats_names["stream_prefix"],
        }
    )
    app = create_app(production)  # with NATS, serve runs every stage in-process
    published_before = REGISTRY.get_sample_value("perfhub_relay_published_total") or 0.0
    accepted = {"method": "POST", "route": "/api/v1/ingest/hrv", "status": "202"}
    accepted_before = REGISTRY.get_sample_value("perfhub_http_requests_total", accepted) or 0.0
    with TestClient(app) as client:
        harness = Harness(client, app.state.runtime, Deployment({}, tmp_path))
        athlete = harness.user()
        response = client.post(
            "/api/v1/ingest/hrv",
            headers=harness.service_token(),
            json={"userId": athlete["id"], "date": utc_today().isoformat(), "rMSSD": 55.0, "vendor": "oura"},
        )
        assert response.status_code == 202
        harness.deployment.wait_idle(harness.runtime)  # type: ignore[union-attr]
    # The relay counted what it published (the request's event and each stage's), and the
    # request was counted under its route template.
    assert (REGISTRY.get_sample_value("perfhub_relay_published_total") or 0.0) >= published_before + 2
    assert REGISTRY.get_sample_value("perfhub_http_requests_total", accepted) == accepted_before + 1
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind == SpanKind.SERVER and "/ingest/hrv" in s.name]
    assert server, [s.name for s in spans]
    trace_id = server[0].context.trace_id
    in_trace = {(s.name, s.kind) for s in spans if s.context.trace_id == trace_id}
    for expected in [
        (f"{VENDOR_DATA_RECEIVED} publish", SpanKind.PRODUCER),
        (f"{VENDOR_DATA_RECEIVED} process", SpanKind.CONSUMER),
        (f"{DATA_NORMALIZED} publish", SpanKind.PRODUCER),
        (f"{DATA_NORMALIZED} process", SpanKind.CONSUMER),
    ]:
        assert expected in in_trace, (expected, in_trace)


def test_concurrent_requests_keep_one_trace_each_end_to_end(
    settings: Settings, nats_names: dict[str, str], tmp_path: Path
) -> None:
    """Requests that arrive together are consumed in one batch; each keeps its own trace through
    every stage (a consumer span per message, and what a stage publishes about an athlete
    continues that athlete's trace)."""
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind
    from tests.conftest import NATS_URL

    from perfhub.app import create_app
    from perfhub.core.telemetry import setup_tracing

    exporter = InMemorySpanExporter()
    setup_tracing(settings, exporter)
    production = settings.model_copy(
        update={
            "nats_url": NATS_URL,
            "nats_subject_prefix": nats_names["subject_prefix"],
            "nats_stream_prefix": nats_names["stream_prefix"],
        }
    )
    app = create_app(production)
    with TestClient(app) as client:
        harness = Harness(client, app.state.runtime, Deployment({}, tmp_path))
        athletes = [harness.user()["id"] for _ in range(12)]
        token = harness.service_token()
        exporter.clear()

        def send(athlete: int) -> int:
            body = {"userId": athlete, "date": utc_today().isoformat(), "rMSSD": 55.0, "vendor": "oura"}
            return client.post("/api/v1/ingest/hrv", headers=token, json=body).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            assert list(pool.map(send, athletes)) == [202] * 12
        harness.deployment.wait_idle(harness.runtime)  # type: ignore[union-attr]
    spans = exporter.get_finished_spans()
    requests = [s for s in spans if s.kind == SpanKind.SERVER and "/ingest/hrv" in s.name]
    assert len(requests) == 12
    expected = {
        (f"{VENDOR_DATA_RECEIVED} publish", SpanKind.PRODUCER),
        (f"{VENDOR_DATA_RECEIVED} process", SpanKind.CONSUMER),
        (f"{DATA_NORMALIZED} publish", SpanKind.PRODUCER),
        (f"{DATA_NORMALIZED} process", SpanKind.CONSUMER),
    }
    for request in requests:
        trace = request.context.trace_id
        in_trace = [(s.name, s.kind) for s in spans if s.context.trace_id == trace]
        assert expected <= set(in_trace), (expected - set(in_trace), in_trace)
        # Exactly one consumer span per stage for this request's message: none borrowed.
        assert in_trace.count((f"{VENDOR_DATA_RECEIVED} process", SpanKind.CONSUMER)) == 1
    producers = [s for s in spans if s.kind == SpanKind.PRODUCER]
    assert all(s.end_time is not None and s.end_time >= s.start_time for s in producers)


def test_metrics_endpoint_reports_pipeline_gauges(harness: Harness) -> None:
    body = harness.client.get("/metrics").text
    for name in (
        "perfhub_ingest_lag_seconds",
        "perfhub_outbox_backlog",
        "perfhub_dead_letters_total",
        "perfhub_normalization_failures_total",
        "perfhub_insights_coverage_ratio",
    ):
        assert name in body
