"""Ingest → readiness latency on the embedded default (SQLite + in-process consumers).

Seeds N demo athletes, starts ``perfhub serve`` as a real process, then offers a fixed rate of
``POST /api/v1/ingest/hrv`` (open loop: requests are sent on schedule whatever the server
does) and, for each request, watches ``GET /api/v1/readiness/today`` until the snapshot's
``updatedAt`` shows a recompute after the request was sent. The latency is
``updatedAt − sent`` (server clock = client clock here), so polling does not blur it.

    python bench/bench_ingest_latency.py [--rate 50] [--seconds 30] [--athletes 150]

Target (issue 3): p99 ≤ 500 ms at 50 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.progress import Progress

console = Console(stderr=True)
TARGET_P99_MS = 500.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def perfhub(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfhub.cli", *args],
        env=env,
        cwd=cwd,
        text=True,
        capture_output=True,
        check=True,
    )


async def wait_ready(client: httpx.AsyncClient, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("server did not become ready")


async def run_load(
    base: str, creds: dict, rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    athletes = creds["athletes"]
    ingest = {"Authorization": f"Bearer {creds['ingestToken']}"}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await wait_ready(client, time.monotonic() + 60)
        today: dict[int, str] = {}
        for athlete in athletes:
            response = await client.get(
                "/api/v1/readiness/today", headers={"Authorization": f"Bearer {athlete['token']}"}
            )
            today[athlete["id"]] = response.json()["date"]
        lags: list[float] = []
        post_ms: list[float] = []
        lost = 0
        busy: set[int] = set()
        rng = random.Random(3)

        async def one(athlete: dict) -> None:
            nonlocal lost
            headers = {"Authorization": f"Bearer {athlete['token']}"}
            body = {
                "userId": athlete["id"],
                "date": today[athlete["id"]],
                "vendor": "oura",
                "rMSSD": round(rng.uniform(35, 90), 1),
                "restingHr": round(rng.uniform(44, 60), 1),
            }
            sent = time.time()
            response = await client.post("/api/v1/ingest/hrv", json=body, headers=ingest)
            post_ms.append((time.time() - sent) * 1000)
            if response.status_code != 202:
                lost += 1
                return
            give_up = time.time() + 15
            await asyncio.sleep(0.05)
            while time.time() < give_up:
                got = await client.get("/api/v1/readiness/today", headers=headers)
                if got.status_code == 200:
                    updated = datetime.fromisoformat(
                        got.json()["updatedAt"].replace("Z", "+00:00")
                    ).timestamp()
                    if updated >= sent:
                        lags.append((updated - sent) * 1000)
                        return
                await asyncio.sleep(0.1)
            lost += 1

        async def guarded(athlete: dict) -> None:
            busy.add(athlete["id"])
            try:
                await one(athlete)
            finally:
                busy.discard(athlete["id"])

        tasks = []
        total = int(rate * seconds)
        start = time.monotonic()
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task(f"offering {rate:g} req/s", total=total)
            for i in range(total):
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                # The next athlete not already waiting on an earlier request of theirs.
                candidates = [a for a in athletes if a["id"] not in busy]
                athlete = candidates[i % len(candidates)] if candidates else athletes[i % len(athletes)]
                tasks.append(asyncio.create_task(guarded(athlete)))
                progress.update(bar, completed=i + 1)
            await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
        console.print(f"offered {total} requests in {elapsed:.1f} s ({total / elapsed:.1f} req/s)")
        return lags, post_ms, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--athletes", type=int, default=150)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="perfhub-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "PERFHUB_VAR_DIR": str(workdir / "var"),
        "PERFHUB_SECRET_KEY": "bench",
        "PERFHUB_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("PERFHUB_NATS_URL", None)
    server = None
    try:
        console.print(f"seeding {args.athletes} athletes × {args.days} days …")
        perfhub(["demo", "--athletes", str(args.athletes), "--days", str(args.days)], env, workdir)
        creds = json.loads((workdir / "var" / "demo-credentials.json").read_text())
        server = subprocess.Popen(
            [sys.executable, "-m", "perfhub.cli", "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        lags, post_ms, lost = asyncio.run(
            run_load(f"http://127.0.0.1:{port}", creds, args.rate, args.seconds)
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    arr = np.array(lags) if lags else np.array([float("inf")])
    p50, p95, p99 = (float(np.percentile(arr, q)) for q in (50, 95, 99))
    print(
        f"ingest → readiness latency at {args.rate:g} req/s over {args.seconds:g} s "
        f"({len(lags)} measured, {lost} lost/timed out)"
    )
    print(f"  p50 {p50:.0f} ms   p95 {p95:.0f} ms   p99 {p99:.0f} ms   max {float(arr.max()):.0f} ms")
    print(
        f"  POST /ingest/hrv p50 {np.percentile(post_ms, 50):.1f} ms  p99 {np.percentile(post_ms, 99):.1f} ms"
    )
    ok = p99 <= TARGET_P99_MS and lost == 0
    print(
        f"  target p99 ≤ {TARGET_P99_MS:.0f} ms: {'PASS' if ok else 'FAIL'} "
        f"(p99 / target = {p99 / TARGET_P99_MS:.2f})"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
