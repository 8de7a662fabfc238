"""``perfhub serve --processes N``: N API processes on one port, never N sets of consumers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def environment(tmp_path: Path) -> dict[str, str]:
    # No secret key given: the command generates one, once, for every process to read.
    env = {k: v for k, v in os.environ.items() if k != "PERFHUB_SECRET_KEY"}
    return env | {
        "PERFHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "PERFHUB_VAR_DIR": str(tmp_path / "var"),
        "COLUMNS": "200",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def served_by(pid: int) -> list[int]:
    """The processes ``pid`` started to serve (multiprocessing's own helper is left out)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    children = [int(child) for child in text.split()]
    return [child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def test_more_than_one_process_needs_no_workers_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "perfhub.cli", "serve", "--processes", "2", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "--no-workers" in lines[0], result.stderr
    # Refused before anything was prepared: no schema, no generated key.
    assert not (tmp_path / "serve.db").exists() and not (tmp_path / "var" / "secret.key").exists()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts processes through /proc (Linux)")
def test_processes_share_the_port_and_stop_together(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    command = ["serve", "--processes", "2", "--no-workers", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "perfhub.cli", *command],
        env=environment(tmp_path),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        ready = False
        while time.monotonic() < deadline and server.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            # Each process starts on its own: wait until both have.
            started = (tmp_path / "serve.log").read_bytes().count(b"Application startup complete")
            if ready and started == 2:
                break
            time.sleep(0.2)
        output = (tmp_path / "serve.log").read_text(errors="replace")
        assert ready, output
        workers = served_by(server.pid)
        assert len(workers) == 2, output
        assert output.count("Application startup complete") == 2, output
        assert "in 2 processes" in output
        # The key was generated once, before the processes started, and every one reads it.
        assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600
        with httpx.Client(timeout=5) as client:
            assert all(client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200 for _ in range(10))
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
