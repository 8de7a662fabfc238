"""Link → first readiness: a new link's history backfill on the embedded default.

Starts ``perfhub serve`` (SQLite, in-process consumers) as a real process against the Oura fake
of the tests, served over real HTTP on this machine with ``--days`` nights per athlete. Each
athlete links (the OAuth dance against the fake; the callback is timed), then the bench polls
``GET /connections`` (printing the progress) and ``GET /readiness/today`` until every backfill
is done and every athlete has a score.

Reported: link → first readiness as the athlete's app sees it (polling every 100 ms; PASS/FAIL
is on this figure) and from the server's own timestamps — link → the first chunk's insights,
which score today because chunks go newest first — split into vendor fetch, landing,
normalize and insights; the whole backfill's time and the backfill's share of it (fetch +
land against normalize + insights) with the readiness snapshots it wrote; the callback's
latency. ``--rate-limited K`` makes Oura answer the first K data
requests after linking with 429 and ``Retry-After: 1``.

    python bench/bench_link_backfill.py [--days 90] [--athletes 1] [--rate-limited 0]

Target (issue): the first readiness within 60 s of linking.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes import serve
from tests.fakes.oura import FakeOura, sleep_doc

from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.migrate import upgrade

console = Console(stderr=True)
TARGET_S = 60.0
POLL_S = 0.1
Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class TimedVendor:
    """The fake's ASGI app, recording when each history request started and ended (this
    machine's clock, as the server's timestamps are)."""

    def __init__(self, app: Asgi) -> None:
        self.app = app
        self.calls: list[tuple[float, float, str, dict[str, list[str]]]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        started = time.time()
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["path"].startswith("/v2/usercollection/sleep"):
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            token = headers.get("authorization", "")[7:]
            self.calls.append((started, time.time(), token, parse_qs(scope["query_string"].decode())))


@dataclass
class Athlete:
    email: str
    token: str
    oura_user: str
    clicked: float = 0.0  # monotonic time of the callback request
    callback_ms: float = 0.0
    first_readiness_s: float | None = None
    backfill: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_vendor(fake: FakeOura, athletes: int, days: int) -> list[str]:
    """Plausible nights (rMSSD, lowest HR, sleep) up to today for each athlete at Oura."""
    rng = random.Random(11)
    today = datetime.now(UTC).date()
    users = []
    for _ in range(athletes):
        user = fake.add_user()
        base_hrv, base_hr = rng.uniform(40, 80), rng.uniform(44, 58)
        for back in range(days):
            day = (today - timedelta(days=back)).isoformat()
            record = sleep_doc(
                day,
                id=f"{user}-{back}",
                average_hrv=round(max(10.0, rng.gauss(base_hrv, 7)), 1),
                lowest_heart_rate=round(rng.gauss(base_hr, 2)),
                total_sleep_duration=int(rng.gauss(7.2, 0.6) * 3600),
            )
            fake.put(user, "sleep", record)
        users.append(user)
    return users


def seed_athletes(url: str, oura_users: list[str]) -> list[Athlete]:
    upgrade(url)
    engine = make_engine(url)
    athletes = []
    with session_scope(make_sessionmaker(engine)) as session:
        for i, oura_user in enumerate(oura_users):
            email = f"link{i}@bench.perfhub.local"
            _, token = create_user(session, email, "athlete", tz="UTC")
            athletes.append(Athlete(email, token, oura_user))
    engine.dispose()
    return athletes


def wait_ready(client: httpx.Client, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"perfhub serve exited with {server.returncode}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


def link(client: httpx.Client, fake: FakeOura, athlete: Athlete) -> None:
    fake.oauth.authorize_as = athlete.oura_user
    auth_url = client.post("/api/v1/connections/oura/link", headers=athlete.headers).json()["authUrl"]
    consent = httpx.get(auth_url)  # the athlete consents at Oura, which redirects back with a code
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    athlete.clicked = time.monotonic()
    response = client.get(
        "/api/v1/connections/oura/callback", params={"code": query["code"][0], "state": query["state"][0]}
    )
    athlete.callback_ms = (time.monotonic() - athlete.clicked) * 1000
    if response.status_code != 200:
        raise SystemExit(f"callback failed: {response.status_code} {response.text}")


def watch(client: httpx.Client, athletes: list[Athlete], timeout: float) -> None:
    """Poll until every backfill has ended and every athlete has a score; print progress."""
    started = time.monotonic()
    printed = 0.0
    while time.monotonic() - started < timeout:
        for athlete in athletes:
            if athlete.backfill.get("status") not in ("done", "failed"):
                (connection,) = client.get("/api/v1/connections", headers=athlete.headers).json()
                athlete.backfill = connection["backfill"]
            if athlete.first_readiness_s is None:
                today = client.get("/api/v1/readiness/today", headers=athlete.headers)
                if today.status_code == 200 and today.json().get("readiness") is not None:
                    athlete.first_readiness_s = time.monotonic() - athlete.clicked
        finished = all(a.backfill.get("status") in ("done", "failed") for a in athletes)
        scored = sum(a.first_readiness_s is not None for a in athletes)
        now = time.monotonic()
        if now - printed >= 0.25 or (finished and scored == len(athletes)):
            printed = now
            days = sum(a.backfill.get("daysDone", 0) for a in athletes)
            total = sum(a.backfill.get("daysTotal", 0) for a in athletes)
            states = defaultdict(int)
            for a in athletes:
                states[a.backfill.get("status", "?")] += 1
            errors = {a.backfill["error"] for a in athletes if a.backfill.get("error")}
            console.print(
                f"  {now - started:6.2f} s  backfill {days}/{total} days "
                f"({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}), "
                f"records {sum(a.backfill.get('records', 0) for a in athletes)}, "
                f"readiness {scored}/{len(athletes)}"
                + (f"  [{'; '.join(sorted(errors))}]" if errors else ""),
                highlight=False,
            )
        if finished and scored == len(athletes):
            return
        time.sleep(POLL_S)


def wait_settled(db_path: Path, timeout: float = 60) -> None:
    """Until normalize and insights have had every event (the last chunk's among them)."""
    deadline = time.monotonic() + timeout
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        while time.monotonic() < deadline:
            pending = db.execute(
                "SELECT count(*) FROM outbox o WHERE o.subject IN "
                "('connection.backfill.requested', 'vendor.data.received', 'data.normalized') "
                "AND NOT EXISTS (SELECT 1 FROM outbox_delivery d WHERE d.outbox_id = o.id "
                "AND d.status IN ('done', 'dead'))"
            ).fetchone()[0]
            if pending == 0:
                return
            time.sleep(0.05)


def snapshot_writes(db_path: Path) -> int:
    """Readiness snapshots written (the recompute cost of the backfill)."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT coalesce(sum(json_array_length(payload, '$.dates')), 0) FROM outbox "
            "WHERE subject = 'insights.updated'"
        ).fetchone()
        return int(row[0])


def stamp(value: str | None) -> float:
    assert value is not None
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


@dataclass
class Batch:
    consumer: str
    start: float
    end: float
    users: set[int]
    payloads: list[dict[str, Any]]


def timeline(db_path: Path) -> tuple[list[Batch], dict[int, tuple[float, float, float, str]]]:
    """The embedded bus thread's deliveries, in order, each with the time it took.

    The thread delivers one batch at a time, so a batch ran from the later of the previous
    batch's end and its first event's creation to its own end (marked in its transaction).
    """
    import json

    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT d.consumer, d.updated_at, o.created_at, o.user_id, o.payload FROM outbox_delivery d "
            "JOIN outbox o ON o.id = d.outbox_id WHERE d.status = 'done' ORDER BY d.updated_at, o.id"
        ).fetchall()
        connections = {
            user_id: (stamp(linked), stamp(started), stamp(finished), status)
            for user_id, linked, started, finished, status in db.execute(
                "SELECT user_id, linked_at, backfill_started_at, backfill_finished_at, backfill_status "
                "FROM vendor_connection"
            )
        }
    grouped: dict[tuple[str, str], list[tuple[float, int, dict[str, Any]]]] = defaultdict(list)
    for consumer, ended, created, user_id, payload in rows:
        grouped[(consumer, ended)].append((stamp(created), user_id, json.loads(payload)))
    batches: list[Batch] = []
    previous_end = 0.0
    for (consumer, ended), events in sorted(grouped.items(), key=lambda item: stamp(item[0][1])):
        end = stamp(ended)
        start = max(previous_end, min(created for created, _, _ in events))
        batches.append(Batch(consumer, start, end, {u for _, u, _ in events}, [p for _, _, p in events]))
        previous_end = end
    return batches, connections


def fetch_seconds(vendor: TimedVendor, start: float, end: float) -> float:
    """Vendor time inside [start, end]: from the first history request's start to the last's end."""
    inside = [(s, e) for s, e, _, _ in vendor.calls if s >= start - 0.001 and e <= end + 0.001]
    return max(e for _, e in inside) - min(s for s, _ in inside) if inside else 0.0


def report(
    args: argparse.Namespace,
    athletes: list[Athlete],
    batches: list[Batch],
    connections: Any,
    vendor: Any,
    snapshots: int,
) -> bool:
    n = len(athletes)
    days_total = max(a.backfill.get("daysTotal", 0) for a in athletes)
    seen = [a.first_readiness_s for a in athletes if a.first_readiness_s is not None]
    failed = [a for a in athletes if a.backfill.get("status") != "done"]
    worst = max(seen) if len(seen) == n else float("inf")
    print(
        f"link → first readiness, embedded (SQLite, in-process consumers), Oura fake over HTTP: "
        f"{n} athlete{'s' * (n > 1)} × {args.days} nights at the vendor"
        + (
            f", first {args.rate_limited} data requests rate-limited (Retry-After: 1)"
            if args.rate_limited
            else ""
        )
    )
    if seen:
        ordered = sorted(seen)
        print(
            f"  first readiness as the app sees it: p50 {ordered[len(ordered) // 2]:.2f} s, max {worst:.2f} s"
            f"  (polling every {POLL_S * 1000:.0f} ms)"
        )

    # Server side: each athlete's path to a first score (link → first chunk → normalize → insights).
    paths = []
    for user_id, (linked, _started, finished, _status) in connections.items():
        chunk = next((b for b in batches if b.consumer == "backfill" and user_id in b.users), None)
        if chunk is None:
            continue
        normalize = next((b for b in batches if b.consumer == "normalize" and b.start >= chunk.end), None)
        insights = next(
            (b for b in batches if b.consumer == "insights" and user_id in b.users and b.start >= chunk.end),
            None,
        )
        if normalize is None or insights is None:
            continue
        fetch = fetch_seconds(vendor, chunk.start, chunk.end)
        paths.append(
            (
                insights.end - linked,
                chunk.start - linked,
                fetch,
                chunk.end - chunk.start - fetch,
                normalize.end - chunk.end,
                insights.end - normalize.end,
                finished - linked,
            )
        )
    if paths:
        total, queued, fetch, land, normalize, insights, _ = max(paths)
        path_s = fetch + land + normalize + insights
        print(
            f"  server: link committed → first score {total:.3f} s = waiting {queued * 1000:.0f} ms"
            f" + fetch {fetch * 1000:.0f} ms + land {land * 1000:.0f} ms"
            f" (backfill {100 * (fetch + land) / path_s:.0f} %)"
            f" + normalize {normalize * 1000:.0f} ms + insights {insights * 1000:.0f} ms"
            f" ({100 * (normalize + insights) / path_s:.0f} %)  [slowest athlete]"
        )
        busy = defaultdict(float)
        for batch in batches:
            busy[batch.consumer] += batch.end - batch.start
        fetched = sum(fetch_seconds(vendor, b.start, b.end) for b in batches if b.consumer == "backfill")
        backfill_s = busy["backfill"]
        downstream = busy["normalize"] + busy["insights"]
        share = 100 / (backfill_s + downstream)
        span = max(c[2] for c in connections.values()) - min(c[0] for c in connections.values())
        print(
            f"  whole backfill: link → {days_total} days done {max(p[6] for p in paths):.2f} s"
            + (f" per athlete, first link → last done {span:.2f} s" if n > 1 else "")
            + f"; bus busy {backfill_s + downstream:.2f} s: fetch + land {backfill_s:.2f} s"
            f" ({backfill_s * share:.0f} %; vendor {fetched:.2f} s),"
            f" normalize + insights {downstream:.2f} s ({downstream * share:.0f} %,"
            f" {snapshots} readiness snapshots written)"
        )
    callbacks = sorted(a.callback_ms for a in athletes)
    print(
        f"  callback (code exchange, backfill queued): p50 {callbacks[n // 2]:.0f} ms,"
        f" max {callbacks[-1]:.0f} ms"
    )
    if failed:
        print(f"  {len(failed)} backfill(s) not done: {[a.backfill for a in failed][:3]}")
    ok = worst <= TARGET_S and not failed
    print(
        f"  target first readiness ≤ {TARGET_S:.0f} s: {'PASS' if ok else 'FAIL'}"
        f" (max / target = {worst / TARGET_S:.3f})"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90, help="nights each athlete has at the vendor")
    parser.add_argument("--athletes", type=int, default=1, help="athletes linking one after another")
    parser.add_argument("--rate-limited", type=int, default=0, help="429s before the vendor answers")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="perfhub-bench-link-"))
    db_path = workdir / "bench.db"
    fake = FakeOura()
    oura_users = seed_vendor(fake, args.athletes, args.days)
    athletes = seed_athletes(f"sqlite:///{db_path}", oura_users)
    vendor = TimedVendor(fake.app)
    server: subprocess.Popen[bytes] | None = None
    try:
        with serve(vendor) as vendor_url:
            config = fake.config(vendor_url)
            port = free_port()
            env = {
                **os.environ,
                "PERFHUB_DATABASE_URL": f"sqlite:///{db_path}",
                "PERFHUB_VAR_DIR": str(workdir / "var"),
                "PERFHUB_SECRET_KEY": "bench-link-backfill",
                "PERFHUB_BASE_URL": f"http://127.0.0.1:{port}",
                "PERFHUB_OURA_CLIENT_ID": fake.client_id,
                "PERFHUB_OURA_CLIENT_SECRET": fake.client_secret,
                "PERFHUB_OURA_AUTHORIZE_URL": config.authorize_url,
                "PERFHUB_OURA_TOKEN_URL": config.token_url,
                "PERFHUB_OURA_API_BASE": config.api_base,
                "PERFHUB_RECONCILE_INTERVAL_S": "0",
            }
            env.pop("PERFHUB_NATS_URL", None)
            log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w")  # noqa: SIM115
            server = subprocess.Popen(
                [sys.executable, "-m", "perfhub.cli", "serve", "--port", str(port)],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                wait_ready(client, server)
                console.print(
                    f"linking {args.athletes} athlete(s), {args.days} nights each at the Oura fake …"
                )
                for athlete in athletes:
                    link(client, fake, athlete)
                if args.rate_limited:
                    fake.rate_limit_next(args.rate_limited, retry_after=1)
                watch(client, athletes, args.timeout)
                wait_settled(db_path)
            server.terminate()
            server.wait(15)
        batches, connections = timeline(db_path)
        ok = report(args, athletes, batches, connections, vendor, snapshot_writes(db_path))
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
