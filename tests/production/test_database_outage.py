"""Chaos: PostgreSQL restarts mid-stream under the production shape (API + workers + NATS).

The server is a cluster of this test's own (initdb in a temporary directory, a free port), so
stopping it disturbs no other test. During the outage the API answers 503 with ``Retry-After``
(no traceback in its log) and ``/readyz`` names the database; senders retry; once the server is
back every night lands exactly once, as in the NATS-restart and SIGKILL tests.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tests.conftest import SECRET, Deployment, _free_port, deployment_env
from tests.pipeline.test_production_pipeline import (
    assert_exactly_once,
    ingest_token,
    make_athletes,
    nightly_bodies,
)

from perfhub.core.migrate import upgrade
from perfhub.pipeline.runtime import Runtime
from perfhub.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


class PrivatePostgres:
    """A throwaway PostgreSQL cluster that a test may stop and start at will."""

    def __init__(self) -> None:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not versions:
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin = Path(versions[-1]).parent
        # PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir = Path(tempfile.mkdtemp(prefix="perfhub-pg-"))
        if self.as_owner:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self.as_owner, str(self.bin / tool), *args], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{tool}: {result.stdout}\n{result.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE perfhub")
        yield server
    finally:
        server.remove()


def post_retrying(
    base_url: str, token: dict[str, str], bodies: list[dict[str, Any]], seen: dict[str, int]
) -> None:
    """A well-behaved sender: 503 → wait as told (capped for the test), then send the same again."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for body in bodies:
            for _attempt in range(600):
                try:
                    response = client.post("/api/v1/ingest/hrv", json=body, headers=token)
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                if response.status_code == 503:
                    seen["503"] = seen.get("503", 0) + 1
                    assert response.headers["content-type"].startswith("application/problem+json")
                    seen["retry_after"] = int(response.headers["Retry-After"])
                    time.sleep(0.2)
                    continue
                assert response.status_code == 202, response.text
                seen["accepted"] = seen.get("accepted", 0) + 1
                break
            time.sleep(0.01)


def test_postgres_restart_mid_stream_loses_and_duplicates_nothing(
    private_pg: PrivatePostgres, nats_names: dict[str, str], tmp_path: Path
) -> None:
    url = private_pg.url("perfhub")
    upgrade(url)
    settings = Settings(database_url=url, var_dir=tmp_path / "var", secret_key=SECRET)
    runtime = Runtime.build(settings)
    # A retry budget far shorter than the outage: only holding the messages (not retrying them)
    # can keep every night.
    env = deployment_env(
        settings,
        nats_names,
        PERFHUB_CONSUMER_ACK_WAIT_S="3",
        PERFHUB_WORKER_BATCH_SIZE="20",
        PERFHUB_CONSUMER_MAX_DELIVER="3",
        PERFHUB_CONSUMER_BACKOFF_S="[0.2]",
    )
    deployment = Deployment(env, tmp_path)
    try:
        deployment.start()
        athletes, days = make_athletes(runtime, 10), 20
        bodies = nightly_bodies(athletes, days)
        token = ingest_token(runtime)
        seen: dict[str, int] = {}
        poster = threading.Thread(target=post_retrying, args=(deployment.base_url, token, bodies, seen))
        poster.start()
        time.sleep(1.0)
        private_pg.stop()  # mid-stream: API, relay and consumers all lose the database
        time.sleep(1.0)
        ready = httpx.get(f"{deployment.base_url}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
        refused = httpx.post(
            f"{deployment.base_url}/api/v1/ingest/hrv", json=bodies[0], headers=token, timeout=10
        )
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        assert "database" in refused.json()["detail"]
        time.sleep(3.0)  # longer than the consumers' ack wait: held messages must not be redelivered
        private_pg.start()
        poster.join(180)
        assert not poster.is_alive()
        assert seen.get("accepted") == len(bodies) and seen.get("503", 0) > 0, seen
        deployment.wait_idle(runtime, timeout=180)
        assert_exactly_once(runtime, athletes, days, len(bodies))
        assert httpx.get(f"{deployment.base_url}/readyz", timeout=10).status_code == 200
        api_log = deployment.logs["api"].read_text(errors="replace")
        assert "Traceback" not in api_log, deployment.tail("api")
        assert "database unreachable" in api_log
        for worker in ("normalize", "insights"):
            assert deployment.processes[worker].poll() is None, deployment.tail(worker)
    finally:
        deployment.stop()
        runtime.close()
