"""Security review, medium finding, over real HTTP: bodies are bounded and authenticated before
they are read, so an unauthenticated 200 MB POST costs the server no memory (it took it from
145 to 748 MB for 6 s), and a chunked body is cut off at its route's limit.

The server is ``perfhub serve`` (uvicorn) in a process of its own, so that its memory is its
own: the test samples its resident set from ``/proc`` while attacking it over raw sockets,
which send exactly what an attacker would (no client library reads the answer early or
buffers the body). Its access log is read back to check that secrets in query strings are
redacted.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.conftest import SECRET, _free_port

from perfhub.auth.service import create_user, issue_token
from perfhub.core.db import make_engine, make_sessionmaker, session_scope

MB = 1024**2
ATTACK_BYTES = 200 * MB
# Growth of the server's resident set that still counts as "did not buffer the body": request
# handling, a thread or two and allocator noise, far below even one limit's worth of a 200 MB body.
RSS_SLACK = 25 * MB


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    athlete: str
    ingest: str

    def rss(self) -> int:
        return _status_kb(self.process.pid, "VmRSS") * 1024

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's memory")
    tmp = tmp_path_factory.mktemp("hardening-http")
    database = tmp / "perfhub.db"
    shutil.copy(sqlite_template, database)
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    with session_scope(make_sessionmaker(engine)) as session:
        _, athlete = create_user(session, "http-athlete@example.org", "athlete")
        ingest = issue_token(session, "http ingest", None, ("ingest",))
    engine.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": url,
        "PERFHUB_SECRET_KEY": SECRET,
        "PERFHUB_VAR_DIR": str(tmp / "var"),
        "PERFHUB_RECONCILE_INTERVAL_S": "0",
        # Configured, so that a webhook's body is read (up to its cap) for its signature.
        "PERFHUB_OURA_CLIENT_ID": "oura-client",
        "PERFHUB_OURA_CLIENT_SECRET": "oura-secret",
        "PERFHUB_OURA_WEBHOOK_VERIFICATION_TOKEN": "oura-handshake-secret",
    }
    log = tmp / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "perfhub.cli", "serve", "--no-workers", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    running = Server(process, port, log, athlete, ingest)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("server did not start:\n" + running.log_text())
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


class RssSampler:
    """The server's largest resident set while a block runs, sampled every 10 ms."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.before = server.rss()
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.server.rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)  # anything still arriving is read (or not) by now
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.server.rss())

    @property
    def growth(self) -> int:
        return self.peak - self.before

    def report(self, label: str) -> str:
        return f"{label}: server RSS {self.before / MB:.0f} MB before, peak {self.peak / MB:.0f} MB"


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    return sock


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one response the server sends before it closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def _send_until_refused(sock: socket.socket, total: int, chunk: bytes, *, chunked: bool = False) -> int:
    """Send up to ``total`` bytes; the count sent before the server closed the connection."""
    sent = 0
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
    try:
        while sent < total:
            sock.sendall(frame)
            sent += len(chunk)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_unauthenticated_200_mb_post_is_refused_up_front(server: Server) -> None:
    """The review's attack: 200 MB with a Content-Length and no token."""
    with RssSampler(server) as rss, _connect(server) as sock:
        sock.sendall(
            _head(
                "/api/v1/ingest/hrv",
                {"Content-Type": "application/json", "Content-Length": str(ATTACK_BYTES)},
            )
        )
        # Answered before a byte of the body was sent: it was never going to be read.
        status, headers, body = _read_response(sock)
        sent = _send_until_refused(sock, ATTACK_BYTES, b" " * MB)
    print(rss.report(f"200 MB unauthenticated POST (client got {sent / MB:.0f} MB out)"))
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close" and b'"status":413' in body
    assert sent < ATTACK_BYTES, "the server read the whole body instead of closing"
    assert rss.growth < RSS_SLACK, rss.report("memory grew")


def test_unauthenticated_body_within_the_limit_is_401_before_it_is_read(server: Server) -> None:
    with _connect(server) as sock:
        # The 1000 bytes promised never come: an answer at all means nothing waited for them.
        sock.sendall(
            _head("/api/v1/ingest/hrv", {"Content-Type": "application/json", "Content-Length": "1000"})
        )
        status, headers, body = _read_response(sock)
    assert status == 401 and headers["www-authenticate"] == "Bearer" and b"missing bearer token" in body


@pytest.mark.parametrize(
    "path, auth",
    [
        ("/api/v1/ingest/batch", "ingest"),  # JSON: read at the edge up to its 4 MB
        ("/api/v1/webhooks/oura", None),  # no token to check: a 64 kB cap instead
    ],
)
def test_chunked_body_is_cut_off_at_its_limit(server: Server, path: str, auth: str | None) -> None:
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    if auth:
        headers["Authorization"] = f"Bearer {server.ingest}"
    with RssSampler(server) as rss, _connect(server) as sock:
        sock.sendall(_head(path, headers) + b"5\r\n[    \r\n")
        sent = _send_until_refused(sock, ATTACK_BYTES, b" " * (64 * 1024), chunked=True)
        status, response_headers, _ = _read_response(sock)
    print(rss.report(f"chunked POST {path} (client got {sent / MB:.1f} MB out)"))
    assert status == 413 and response_headers["connection"] == "close"
    assert sent < 20 * MB, "the server kept reading past the limit"
    assert rss.growth < RSS_SLACK, rss.report("memory grew")


def test_chunked_upload_without_a_token_is_401_before_it_is_read(server: Server) -> None:
    with RssSampler(server) as rss, _connect(server) as sock:
        sock.sendall(
            _head(
                "/api/v1/import/apple-health",
                {"Content-Type": "application/zip", "Transfer-Encoding": "chunked"},
            )
        )
        status, _, body = _read_response(sock)
        sent = _send_until_refused(sock, ATTACK_BYTES, b"\0" * MB, chunked=True)
    assert status == 401 and b"missing bearer token" in body
    assert sent < ATTACK_BYTES and rss.growth < RSS_SLACK, rss.report("memory grew")


def test_a_valid_request_still_works_over_http(server: Server) -> None:
    body = {"userId": 1, "date": "2026-01-01", "rMSSD": 60, "vendor": "oura"}
    response = httpx.post(
        f"http://127.0.0.1:{server.port}/api/v1/ingest/hrv",
        json=body,
        headers={"Authorization": f"Bearer {server.ingest}"},
    )
    assert response.status_code in (202, 404), response.text  # 404: user 1 may not exist
    me = httpx.get(
        f"http://127.0.0.1:{server.port}/api/v1/me", headers={"Authorization": f"Bearer {server.athlete}"}
    )
    assert me.status_code == 200 and me.json()["email"] == "http-athlete@example.org"


def test_access_log_redacts_oauth_code_state_and_verification_token(server: Server) -> None:
    base = f"http://127.0.0.1:{server.port}/api/v1"
    callback = httpx.get(f"{base}/connections/oura/callback?code=SEKRIT-CODE&state=SEKRIT-STATE&x=1")
    handshake = httpx.get(f"{base}/webhooks/oura?verification_token=SEKRIT-VT&challenge=hello")
    assert callback.status_code == 400 and handshake.status_code == 401
    deadline = time.monotonic() + 5
    while "verification_token" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log_text()
    assert "SEKRIT" not in log, log
    assert "/api/v1/connections/oura/callback?code=[redacted]&state=[redacted]&x=1" in log
    assert "/api/v1/webhooks/oura?verification_token=[redacted]&challenge=hello" in log
