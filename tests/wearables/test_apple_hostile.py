"""Hostile Apple Health uploads against a real server over HTTP, and through the CLI.

``perfhub serve`` runs as a subprocess on SQLite, so that what is measured is the server's own:
/healthz answers while a hostile export is parsed (the parse runs in a worker thread, off the event
loop), the server's peak RSS hardly moves, an upload over the cap is answered 413 while it is still
being sent (the rest is never read), and what is stored is untouched by any refused import.
Messages quoting a file, in a problem detail or on a terminal, are short and free of control
characters.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Harness
from tests.wearables.apple_export import (
    HOSTILE_END,
    HOSTILE_HEAD,
    MIB,
    SDNN,
    ExportSpec,
    record_xml,
    repeated,
    write_export_zip,
    write_pieces,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (VmHWM)")

UPLOAD_CAP = 200 * MIB
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\u009b31m\u202e"
RAW_CONTROLS = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]] + ["\u202e"]
DAY = date.today() - timedelta(days=3)


def inert(text: str) -> None:
    found = sorted({c for c in text if c in RAW_CONTROLS})
    assert not found, f"control characters {found!r} in {text[:200]!r}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class Server:
    """``perfhub serve`` in a subprocess, an athlete and their token."""

    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "perfhub.db"
        self.env = {
            **os.environ,
            "PERFHUB_DATABASE_URL": f"sqlite:///{self.db}",
            "PERFHUB_SECRET_KEY": "hostile-test-key",
            "PERFHUB_VAR_DIR": str(tmp / "var"),
            "PERFHUB_APPLE_HEALTH_MAX_UPLOAD_BYTES": str(UPLOAD_CAP),
        }
        self.env.pop("PERFHUB_NATS_URL", None)
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        added = self.cli("user", "add", "ada@example.org", "--role", "athlete", "--tz", "America/Los_Angeles")
        assert added.returncode == 0, added.stderr
        self.token = json.loads(added.stdout)["token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.log = (tmp / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "perfhub.cli", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=tmp,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, (tmp / "serve.log").read_text(errors="replace")
            time.sleep(0.1)
        raise AssertionError("perfhub serve did not come up")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "perfhub.cli", *args],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def stored(self) -> tuple[int, int, int]:
        with sqlite3.connect(self.db) as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("raw_event", "hrv_daily", "sleep_daily")
            )

    def settled(self) -> tuple[int, int, int]:
        """What is stored once the pipeline has stopped changing it."""
        last, quiet = self.stored(), 0
        while quiet < 10:
            time.sleep(0.1)
            now = self.stored()
            quiet = quiet + 1 if now == last else 0
            last = now
        return last

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def good_export(server: Server) -> tuple[int, int, int]:
    """A real export imported and normalised: what every refusal after it must leave as it is."""
    export = write_export_zip(server.tmp / "good.zip", ExportSpec(start=DAY - timedelta(days=20), days=14))
    response = httpx.post(
        server.url + "/api/v1/import/apple-health",
        content=export.path.read_bytes(),
        headers={**server.headers, "content-type": "application/zip"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    stored = server.settled()
    assert all(stored), stored
    return stored


def broken_records(count: int) -> Iterator[bytes]:
    # Each is a used type, so each is read, judged and counted: the costliest thing a file can hold.
    record = f' <Record type="{SDNN}" sourceName="\u009b31m" value=50/>\n'.encode()
    yield from repeated(record, count * len(record))


def test_healthz_answers_while_a_hostile_upload_is_parsed_and_memory_stays_flat(server: Server) -> None:
    stored = good_export(server)
    body = write_pieces(
        server.tmp / "hostile.xml",
        [HOSTILE_HEAD, *repeated(b" ", 100 * MIB), *broken_records(600_000), HOSTILE_END],
    )
    for _ in range(3):  # the server's allocator has seen an import and some requests
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
    before = peak_rss(server.process.pid)
    outcome: dict[str, Any] = {}

    def upload() -> None:
        started = time.monotonic()

        def pieces() -> Iterator[bytes]:
            with body.open("rb") as handle:
                while piece := handle.read(MIB):
                    yield piece
            outcome["sent"] = time.monotonic() - started

        response = httpx.post(
            server.url + "/api/v1/import/apple-health",
            content=pieces(),
            headers={**server.headers, "content-type": "application/xml"},
            timeout=300,
        )
        outcome["seconds"] = time.monotonic() - started
        outcome["response"] = response

    uploading = threading.Thread(target=upload)
    uploading.start()
    started = time.monotonic()
    latencies: list[tuple[float, float]] = []  # (since the upload started, seconds to answer)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while uploading.is_alive():
            asked = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append((asked - started, time.monotonic() - asked))
            time.sleep(0.05)
    uploading.join()
    response = outcome["response"]
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["records"], result["skipped"], result["days"]) == (600_000, 600_000, 0)
    for reason in result["skippedReasons"]:
        inert(reason)
        assert len(reason) < 200
    # Polled while the body was sent and while it was parsed (after the last byte was sent).
    parsing = [seconds for at, seconds in latencies if at > outcome["sent"]]
    assert len(parsing) >= 5, (outcome, len(latencies))
    assert max(seconds for _, seconds in latencies) < 1.0, sorted(s for _, s in latencies)[-5:]
    assert peak_rss(server.process.pid) - before < 64 * MIB
    assert server.settled() == stored


def raw_upload(
    server: Server, *, declared: int | None = None, body: Iterator[bytes] = iter(())
) -> tuple[int, dict[str, str], bytes, int]:
    """POST over a plain socket, sending until the server answers: (status, headers, body, bytes sent).

    httpx would keep sending after a 413 (and then see the connection reset), which hides whether
    the server answered before reading everything."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        length = f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked"
        sock.sendall(
            (
                "POST /api/v1/import/apple-health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {server.token}\r\nContent-Type: application/xml\r\n{length}\r\n\r\n"
            ).encode()
        )
        sent = 0
        for piece in body:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is in: stop sending, as a client reading it would
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        raw = b""
        while b"\r\n\r\n" not in raw:
            part = sock.recv(65536)
            assert part, "the server closed without answering"
            raw += part
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(rest) < int(headers.get("content-length", "0")):
            part = sock.recv(65536)
            if not part:
                break
            rest += part
        return int(lines[0].split()[1]), headers, rest, sent


def test_an_upload_over_the_cap_is_413_before_it_is_read_and_stores_nothing(server: Server) -> None:
    stored = good_export(server)
    # Declared too long: answered at once, not a byte of the body read.
    started = time.monotonic()
    status, headers, body, _ = raw_upload(server, declared=10 * 1024**3)
    assert status == 413 and time.monotonic() - started < 10
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["status"] == 413
    # Streamed with no length: answered once the cap is passed, the rest never read (1 GiB offered).
    status, headers, body, sent = raw_upload(server, body=repeated(b" ", 1024 * MIB))
    assert status == 413 and headers["content-type"].startswith("application/problem+json")
    assert UPLOAD_CAP < sent < UPLOAD_CAP + 128 * MIB, sent
    inert(json.loads(body)["detail"])
    assert server.settled() == stored


def test_a_refused_hostile_zip_stores_nothing(server: Server) -> None:
    stored = good_export(server)
    bomb = write_pieces(
        server.tmp / "bomb.zip", [HOSTILE_HEAD, *repeated(b" ", 150 * MIB), HOSTILE_END], member="export.xml"
    )
    response = httpx.post(
        server.url + "/api/v1/import/apple-health",
        content=bomb.read_bytes(),
        headers={**server.headers, "content-type": "application/zip"},
        timeout=60,
    )
    assert response.status_code == 422 and response.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert "zip bomb" in response.json()["detail"]
    assert server.settled() == stored


# --------------------------------------------------------------------------------------------
# Messages: the problem detail and the command line
# --------------------------------------------------------------------------------------------


def hostile_names_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{ESCAPES}[bold]{'m' * 3000}.xml", "<NotHealthData/>")
        archive.writestr(f"[link=https://example.org]{ESCAPES}.xml", "<NotHealthData/>")
    return path


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
def test_a_problem_detail_quotes_names_short_and_inert(harness: Harness, tmp_path: Path) -> None:
    athlete = harness.user()
    response = harness.client.post(
        "/api/v1/import/apple-health",
        content=hostile_names_zip(tmp_path / "export.zip").read_bytes(),
        headers={**athlete["headers"], "content-type": "application/zip"},
    )
    assert response.status_code == 422 and response.headers["content-type"].startswith(
        "application/problem+json"
    )
    problem = response.json()
    for text in (problem["detail"], *(e["msg"] for e in problem["errors"])):
        inert(text)
        assert len(text) < 500 and "holds no Apple Health export" in text and "\\x1b[2J" in text


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
def test_skip_reasons_quote_values_short_and_inert(harness: Harness, tmp_path: Path) -> None:
    athlete = harness.user()
    at = f"{DAY.isoformat()} 03:00:00 -0800"
    hostile = "&#x9b;31m&#x202e;" + "9" * 5000
    body = (HOSTILE_HEAD + record_xml(SDNN, at, at, hostile, unit="ms").encode() + HOSTILE_END).decode()
    response = harness.client.post(
        "/api/v1/import/apple-health",
        content=body.encode(),
        headers={**athlete["headers"], "content-type": "application/xml"},
    )
    assert response.status_code == 201, response.text
    reasons = response.json()["skippedReasons"]
    assert len(reasons) == 1 and len(reasons[0]) < 250 and "(5,005 characters)" in reasons[0]
    inert(reasons[0])


def test_the_cli_prints_a_hostile_export_short_inert_and_at_once(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PERFHUB_SECRET_KEY": "k",
        "PERFHUB_VAR_DIR": str(tmp_path / "var"),
    }
    env.pop("PERFHUB_NATS_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "perfhub.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=300,
        )

    assert cli("user", "add", "a@example.org", "--role", "athlete").returncode == 0
    # Before: minutes printing a skip reason that held the whole 100 MiB attribute.
    at = f"{DAY.isoformat()} 03:00:00 -0800"
    export = write_pieces(
        tmp_path / f"{ESCAPES}export.xml",
        [
            HOSTILE_HEAD,
            record_xml(SDNN, at, at, 50, unit="&#x9b;31m").encode(),
            f' <Record type="{SDNN}" sourceName="'.encode(),
            *repeated(b"A", 100 * MIB),
            f'" unit="ms" startDate="{at}" endDate="{at}" value="50"/>\n'.encode(),
            HOSTILE_END,
        ],
    )
    started = time.monotonic()
    done = cli("import", "apple-health", str(export), "--user", "a@example.org")
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - started < 60
    assert len(done.stdout) < 2000 and len(done.stderr) < 5000
    for stream in (done.stdout, done.stderr):
        inert(stream.decode("utf-8").replace("\n", "").replace("\r", ""))
    result = json.loads(done.stdout)
    assert (result["records"], result["skipped"]) == (2, 2)
    assert "longer than 64.0 KiB" in result["skippedReasons"][1]
    # A refusal quoting names with escape sequences and rich markup: one line, both taken literally.
    refused = cli(
        "import", "apple-health", str(hostile_names_zip(tmp_path / "x.zip")), "--user", "a@example.org"
    )
    errors = [line for line in refused.stderr.decode("utf-8").splitlines() if line.startswith("error:")]
    assert refused.returncode == 1 and len(errors) == 1, refused.stderr
    inert(errors[0])
    assert "\\x1b[2J" in errors[0] and "[bold]" in errors[0] and len(errors[0]) < 600
