"""``perfhub worker --metrics-host``: loopback by default, any interface when asked (compose)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.conftest import Deployment, _free_port, deployment_env

from perfhub.settings import Settings

# 127.0.0.2 is loopback too on Linux, but a server bound to 127.0.0.1 does not answer there:
# it stands in for "another interface" without depending on the machine's network.
ELSEWHERE = "127.0.0.2"


def answers(host: str, port: int) -> bool:
    try:
        response = httpx.get(f"http://{host}:{port}/metrics", timeout=3)
    except httpx.TransportError:
        return False
    return response.status_code == 200 and "perfhub_events_processed_total" in response.text


@pytest.mark.backends("nats")
@pytest.mark.parametrize(
    ("option", "reached_elsewhere"),
    [((), False), (("--metrics-host", "0.0.0.0"), True)],
    ids=["default", "any"],
)
def test_worker_metrics_bind_loopback_unless_told(
    backend: str,
    settings: Settings,
    nats_names: dict[str, str],
    tmp_path: Path,
    option: tuple[str, ...],
    reached_elsewhere: bool,
) -> None:
    port = _free_port()
    deployment = Deployment(deployment_env(settings, nats_names), tmp_path)
    try:
        deployment.spawn("normalize", "worker", "normalize", "--metrics-port", str(port), *option)
        deployment.wait_log("normalize", "running")
        assert answers("127.0.0.1", port), deployment.tail("normalize")
        assert answers(ELSEWHERE, port) is reached_elsewhere
        # The same port answers for the worker's health: alive, and ready while it consumes.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3).json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3)
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "stage": True}
        # And the stage says it is up in its metrics (0 once a task dies or it stops).
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=3).text
        assert 'perfhub_stage_up{stage="normalize"} 1.0' in metrics
    finally:
        deployment.stop()


def test_an_address_not_on_this_machine_fails_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PERFHUB_NATS_URL": "nats://127.0.0.1:1",
        "PERFHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "PERFHUB_VAR_DIR": str(tmp_path / "var"),
        "COLUMNS": "200",
    }
    # 192.0.2.1 is a documentation address (TEST-NET-1): no machine has it, so binding fails.
    options = ["--metrics-port", str(_free_port()), "--metrics-host", "192.0.2.1"]
    result = subprocess.run(
        [sys.executable, "-m", "perfhub.cli", "worker", "normalize", *options],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: cannot serve metrics on 192.0.2.1:")
    # Refused before the stage started: nothing reached the database.
    assert not (tmp_path / "w.db").exists()
