"""Production pipeline throughput: API + 3 worker processes on PostgreSQL + NATS JetStream.

N athletes' nightly deliveries (HRV and sleep for the night just ended) are posted to
``/api/v1/ingest/batch`` at a fixed offered rate (open loop). Every athlete already has
``--history-days`` of canonical data, so each delivery is scored against real baselines. With
``--nights`` > 1 each athlete delivers several nights, newest first (a backfill: every older
night rewrites the snapshots of the days after it).

Reported: sustained events/s (accepted deliveries ÷ time until the last one's readiness is
persisted), ingest lag p50/p99 from the server's own timestamps (landing → the insights commit
that included it) and where it goes, loss (deliveries without canonical row or readiness), and
the ratio against the raw plumbing measured in the same run: the same rows bulk-upserted
straight into PostgreSQL plus the same number of messages published straight to JetStream.

    python bench/bench_pipeline.py [--rate 520] [--seconds 20] [--nights 1] [--history-days 60]

Needs PostgreSQL and NATS (PERFHUB_TEST_DATABASE_URL / PERFHUB_TEST_NATS_URL or the defaults).
Target (issue 4): ≥ 500 events/s sustained, lag p99 ≤ 2 s, zero loss.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
import psycopg
from rich.console import Console
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perfhub.auth.models import User
from perfhub.auth.service import issue_token
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.migrate import upgrade

console = Console(stderr=True)
PG_URL = os.environ.get("PERFHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("PERFHUB_TEST_NATS_URL", "nats://127.0.0.1:4222")
TARGET_RATE, TARGET_P99_S = 500.0, 2.0


def database(name: str) -> str:
    return PG_URL.rpartition("/")[0] + "/" + name


def seed(url: str, athletes: int, history_days: int, nights: int) -> tuple[list[int], str]:
    """Athletes with ``history_days`` of canonical HRV and sleep before the nights to deliver."""
    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_sessionmaker(engine)) as session:
        users = [
            User(email=f"bench{i}@example.org", role="athlete", name=f"bench{i}") for i in range(athletes)
        ]
        session.add_all(users)
        session.flush()
        ids = [user.id for user in users]
        token = issue_token(session, "bench", None, ("ingest",))
    engine.dispose()
    rng = np.random.default_rng(7)
    today = datetime.now(UTC).date()
    captured = datetime.now(UTC) - timedelta(days=1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY hrv_daily (user_id, date, vendor, rmssd_ms, ln_rmssd, resting_hr, captured_at, ingested_at)"
            " FROM STDIN"
        ) as copy:
            for athlete in ids:
                rmssd = rng.uniform(35, 90, history_days)
                rhr = rng.uniform(44, 60, history_days)
                for back in range(history_days):
                    day = today - timedelta(days=nights + back)
                    copy.write_row(
                        (
                            athlete,
                            day,
                            "oura",
                            rmssd[back],
                            np.log(rmssd[back]),
                            rhr[back],
                            captured,
                            captured,
                        )
                    )
        with cur.copy(
            "COPY sleep_daily (user_id, date, vendor, duration_min, efficiency_pct, captured_at, ingested_at)"
            " FROM STDIN"
        ) as copy:
            for athlete in ids:
                minutes = rng.integers(360, 540, history_days)
                for back in range(history_days):
                    day = today - timedelta(days=nights + back)
                    copy.write_row((athlete, day, "oura", int(minutes[back]), 90.0, captured, captured))
        conn.commit()
    return ids, token


def deliveries(ids: list[int], nights: int) -> list[tuple[str, dict[str, Any]]]:
    """Each athlete's HRV and sleep for each night to deliver, newest night first."""
    rng = random.Random(5)
    today = datetime.now(UTC).date()
    out: list[tuple[str, dict[str, Any]]] = []
    for back in range(nights):
        day = (today - timedelta(days=back)).isoformat()
        for athlete in ids:
            out.append(
                (
                    "hrv",
                    {
                        "userId": athlete,
                        "date": day,
                        "rMSSD": round(rng.uniform(35, 90), 1),
                        "restingHr": round(rng.uniform(44, 60), 1),
                        "vendor": "oura",
                    },
                )
            )
            out.append(
                (
                    "sleep",
                    {
                        "userId": athlete,
                        "date": day,
                        "durationMin": rng.randint(360, 540),
                        "efficiencyPct": rng.randint(80, 97),
                        "vendor": "oura",
                    },
                )
            )
    return out


async def offer(
    base: str, token: str, items: list[tuple[str, dict[str, Any]]], rate: float, batch: int
) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    accepted = 0
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def send(chunk: list[tuple[str, dict[str, Any]]]) -> None:
            nonlocal accepted
            if batch == 1:
                path, body = f"/api/v1/ingest/{chunk[0][0]}", chunk[0][1]
            else:
                path = "/api/v1/ingest/batch"
                body = {
                    "hrv": [b for k, b in chunk if k == "hrv"],
                    "sleep": [b for k, b in chunk if k == "sleep"],
                }
            for _ in range(20):
                try:
                    response = await client.post(path, json=body, headers=headers)
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                accepted += len(chunk) if response.status_code == 202 else 0
                return

        start = time.monotonic()
        tasks = []
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task(f"offering {rate:g} events/s", total=len(items))
            for i in range(0, len(items), batch):
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                tasks.append(asyncio.create_task(send(items[i : i + batch])))
                progress.update(bar, completed=i)
            await asyncio.gather(*tasks)
        return accepted, start


def count(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any] | None = None) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def wait_done(conn: psycopg.Connection[Any], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = conn.execute(
            "SELECT count(*) FROM outbox o WHERE o.published_at IS NULL OR (o.subject IN "
            "('vendor.data.received','data.normalized') AND NOT EXISTS (SELECT 1 FROM outbox_delivery d "
            "WHERE d.outbox_id = o.id AND d.status IN ('done','dead')))"
        ).fetchone()
        if busy and busy[0] == 0:
            return
        time.sleep(0.25)
    raise SystemExit("pipeline did not finish")


def lags(conn: psycopg.Connection[Any]) -> tuple[list[float], float, list[tuple[str, list[float]]]]:
    """Per delivery: landing → first insights commit for that athlete after it was normalised;
    the time of the last such commit; and where the lag goes (API commit → relayed →
    normalised → readiness persisted)."""
    rows = conn.execute(
        "SELECT r.user_id, r.received_at, o.published_at, d.updated_at FROM raw_event r "
        "JOIN outbox o ON o.subject = 'vendor.data.received' AND (o.payload->>'rawEventId')::int = r.id "
        "JOIN outbox_delivery d ON d.outbox_id = o.id AND d.consumer = 'normalize'"
    ).fetchall()
    updates: dict[int, list[datetime]] = {}
    for user_id, created in conn.execute(
        "SELECT user_id, created_at FROM outbox WHERE subject = 'insights.updated' ORDER BY id"
    ):
        updates.setdefault(user_id, []).append(created)
    result, last = [], 0.0
    relayed, normalized, insights = [], [], []
    for user_id, received, published, handled in rows:
        relayed.append((published - received).total_seconds())
        normalized.append((handled - published).total_seconds())
        later = next((t for t in updates.get(user_id, []) if t >= handled), None)
        if later is not None:
            result.append((later - received).total_seconds())
            insights.append((later - handled).total_seconds())
            last = max(last, later.timestamp())
    breakdown = [
        ("API commit → relayed", relayed),
        ("relayed → normalised", normalized),
        ("normalised → readiness", insights),
    ]
    return result, last, breakdown


def plumbing(url: str, items: list[tuple[str, dict[str, Any]]], prefix: str) -> float:
    """The same rows upserted in bulk straight into PostgreSQL, plus the same number of
    messages published straight to JetStream (acked): the floor under our pipeline."""
    start = time.monotonic()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute(
            "CREATE TEMP TABLE plumbing_hrv (user_id int, date date, vendor text, rmssd float, rhr float,"
            " PRIMARY KEY (user_id, date, vendor))"
        )
        conn.execute(
            "CREATE TEMP TABLE plumbing_sleep (user_id int, date date, vendor text, minutes float,"
            " PRIMARY KEY (user_id, date, vendor))"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO plumbing_hrv VALUES (%s,%s,%s,%s,%s) ON CONFLICT (user_id, date, vendor) "
                "DO UPDATE SET rmssd = excluded.rmssd, rhr = excluded.rhr",
                [
                    (b["userId"], b["date"], b["vendor"], b["rMSSD"], b["restingHr"])
                    for k, b in items
                    if k == "hrv"
                ],
            )
            cur.executemany(
                "INSERT INTO plumbing_sleep VALUES (%s,%s,%s,%s) ON CONFLICT (user_id, date, vendor) "
                "DO UPDATE SET minutes = excluded.minutes",
                [(b["userId"], b["date"], b["vendor"], b["durationMin"]) for k, b in items if k == "sleep"],
            )
        conn.commit()

    async def publish() -> None:
        connection = await nats.connect(NATS_URL)
        js = connection.jetstream()
        stream = f"PLUMB{prefix}"
        await js.add_stream(name=stream, subjects=[f"plumb{prefix}.>"])
        try:
            for chunk in range(0, len(items), 500):
                await asyncio.gather(
                    *(
                        js.publish(
                            f"plumb{prefix}.vendor.data.received",
                            str(i).encode(),
                            headers={"Nats-Msg-Id": str(i)},
                        )
                        for i in range(chunk, min(chunk + 500, len(items)))
                    )
                )
        finally:
            await js.delete_stream(stream)
            await connection.close()

    asyncio.run(publish())
    return len(items) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=520.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--nights", type=int, default=1, help="nights each athlete delivers (newest first)")
    parser.add_argument(
        "--history-days", type=int, default=60, help="canonical days each athlete already has"
    )
    parser.add_argument("--batch", type=int, default=25, help="deliveries per request (1: /ingest/hrv|sleep)")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    name = f"perfhub_bench_{tag}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = database(name)
    workdir = Path(tempfile.mkdtemp(prefix="perfhub-pipeline-"))
    port = 18000 + random.randint(0, 999)
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": url,
        "PERFHUB_NATS_URL": NATS_URL,
        "PERFHUB_NATS_SUBJECT_PREFIX": f"b{tag}.",
        "PERFHUB_NATS_STREAM_PREFIX": f"B{tag}",
        "PERFHUB_SECRET_KEY": "bench",
        "PERFHUB_VAR_DIR": str(workdir),
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # Each athlete delivers HRV + sleep per night: enough athletes for the offered load.
        athletes = max(1, round(args.rate * args.seconds / (2 * args.nights)))
        console.print(f"seeding {athletes} athletes with {args.history_days} days of history …")
        ids, token = seed(url, athletes, args.history_days, args.nights)
        items = deliveries(ids, args.nights)
        log = (workdir / "processes.log").open("wb")
        cmd = [sys.executable, "-m", "perfhub.cli"]
        processes.append(
            subprocess.Popen(
                [*cmd, "serve", "--no-workers", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        for stage in ("ingest", "normalize", "insights"):
            processes.append(
                subprocess.Popen([*cmd, "worker", stage], env=env, stdout=log, stderr=subprocess.STDOUT)
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        time.sleep(2)  # workers' subscriptions
        accepted, start = asyncio.run(offer(f"http://127.0.0.1:{port}", token, items, args.rate, args.batch))
        with psycopg.connect(url) as conn:
            wait_done(conn)
            lag, last, breakdown = lags(conn)
            raw = count(conn, "SELECT count(*) FROM raw_event")
            # The delivered nights' canonical rows (the seeded history is older).
            first_night = min(b["date"] for _, b in items)
            rows = count(
                conn,
                "SELECT (SELECT count(*) FROM hrv_daily WHERE date >= %(d)s)"
                " + (SELECT count(*) FROM sleep_daily WHERE date >= %(d)s)",
                {"d": first_night},
            )
        expected_rows = len({(k, b["userId"], b["date"]) for k, b in items})
        wall = last - (time.time() - (time.monotonic() - start))
        sustained = accepted / wall if wall > 0 else float("nan")
        console.print("measuring the raw plumbing …")
        floor = plumbing(url, items, tag)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"""
import asyncio, nats
async def m():
    c = await nats.connect({NATS_URL!r}); js = c.jetstream()
    for s in await js.streams_info():
        if s.config.name.startswith('B{tag}_'): await js.delete_stream(s.config.name)
    await c.close()
asyncio.run(m())""",
            ],
            check=False,
        )
    lost = len(items) - accepted + (accepted - raw) + (expected_rows - rows) + (raw - len(lag))
    p50, p99 = (float(np.percentile(lag, q)) if lag else float("inf") for q in (50, 99))
    print(
        f"pipeline: {accepted} deliveries ({len(ids)} athletes × {args.nights} night(s), "
        f"{args.history_days} days of history) offered at {args.rate:g}/s to API + 3 workers "
        f"(PostgreSQL + NATS JetStream)"
    )
    print(
        f"  sustained {sustained:.0f} events/s   lag p50 {p50 * 1000:.0f} ms   p99 {p99 * 1000:.0f} ms   "
        f"lost {lost}"
    )
    for label, values in breakdown:
        if values:
            print(
                f"    {label:<28} p50 {np.percentile(values, 50) * 1000:6.0f} ms"
                f"   p99 {np.percentile(values, 99) * 1000:6.0f} ms"
            )
    print(
        f"  raw plumbing (bulk upsert + JetStream publish): {floor:.0f} events/s   "
        f"pipeline / plumbing = {sustained / floor:.2f}"
    )
    ok = sustained >= TARGET_RATE and p99 <= TARGET_P99_S and lost == 0
    print(
        f"  target ≥ {TARGET_RATE:.0f} events/s, p99 ≤ {TARGET_P99_S:.0f} s, zero loss: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
