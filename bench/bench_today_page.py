"""The today page's server time on the embedded default (SQLite), measured in process.

One athlete with a year of nights (the demo's synthetic generator, through the ingest service
and the embedded pipeline, as ``make run`` seeds them) signs in through the login form; then
``GET /today`` with the session cookie and, as the comparison measured in the same run,
``GET /api/v1/readiness/today`` with the athlete's bearer token are timed in turns through
Starlette's TestClient (the app in this process: no network, no server process), after a
warm-up. Both read the same stored snapshot, so the ratio is what the page adds to the API:
the session lookup, the wording and the template.

    python bench/bench_today_page.py [--nights 365] [--requests 300] [--warmup 30]

Target (issue 12): p95 ≤ 50 ms for the page. Exit status 0 when it passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perfhub.app import create_app
from perfhub.auth.passwords import set_password
from perfhub.auth.service import create_user
from perfhub.core.db import session_scope
from perfhub.core.migrate import upgrade
from perfhub.demo.seed import ended_nights
from perfhub.demo.synthetic import make_profiles, to_ingest_payloads
from perfhub.pipeline.runtime import Runtime
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_reading
from perfhub.settings import Settings

console = Console(stderr=True)
TARGET_P95_MS = 50.0
PASSWORD = "bench password for today"
TZ = "Europe/Oslo"
HTML = {"accept": "text/html"}


def seed_athlete(runtime: Runtime, nights: int, now: datetime) -> tuple[int, str, str]:
    """A year (``nights``) of one synthetic athlete's mornings, ingested and processed."""
    profile = dataclasses.replace(make_profiles(1, seed=11)[0], tz=TZ)
    hrv, sleep = ended_nights(profile, nights, now, seed=11)
    with Progress(console=console, transient=True) as progress:
        with session_scope(runtime.sessions) as session:
            user, token = create_user(
                session, "bench.athlete@example.org", "athlete", name="Bench Athlete", tz=TZ
            )
            set_password(session, user, PASSWORD)
            user_id, email = user.id, user.email
            bodies = to_ingest_payloads(user_id, hrv, sleep)
            task = progress.add_task(f"ingesting {nights} nights", total=len(bodies))
            for kind, body in bodies:
                accept_reading(session, (HrvIn if kind == "hrv" else SleepIn).model_validate(body))
                progress.advance(task)
        pending = runtime.bus.pending()
        task = progress.add_task("pipeline (normalize, readiness)", total=pending)
        while runtime.bus.run_once():
            progress.update(task, completed=pending - runtime.bus.pending())
        runtime.bus.drain()
        progress.update(task, completed=pending)
    console.print(f"seeded {len(hrv)} HRV and {len(sleep)} sleep nights ending {hrv[-1].date}")
    return user_id, email, token


def sign_in(client: TestClient, email: str) -> None:
    form = client.get("/login", headers=HTML).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if found is None:
        raise SystemExit("no CSRF field on the login form")
    answer = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": found.group(1), "next": "/today"},
        headers=HTML,
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code} {answer.text[:300]}")


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    answer = call()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"{answer.request.url} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def percentiles(samples: list[float]) -> dict[str, float]:
    values = np.asarray(samples)
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "p99": float(np.percentile(values, 99)),
        "mean": statistics.fmean(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="perfhub-bench-today-") as work:
        url = f"sqlite:///{Path(work) / 'perfhub.db'}"
        upgrade(url)
        settings = Settings(
            database_url=url, var_dir=Path(work) / "var", secret_key="bench-today-" + "x" * 20
        )
        app = create_app(settings)
        with TestClient(app) as client:
            _user_id, email, token = seed_athlete(app.state.runtime, args.nights, datetime.now(UTC))
            sign_in(client, email)
            api_headers = {"Authorization": f"Bearer {token}"}
            answer = client.get("/api/v1/readiness/today", headers=api_headers)
            if answer.status_code != 200:
                raise SystemExit(f"no score to show: {answer.status_code} {answer.text[:300]}")
            today = answer.json()
            console.print(
                f"today {today['date']}: readiness {today['readiness']} ({today['band']}, {today['status']})"
            )

            def page() -> Any:
                return client.get("/today", headers=HTML)

            def api() -> Any:
                return client.get("/api/v1/readiness/today", headers=api_headers)

            if "gauge-value" not in page().text:
                raise SystemExit("the page did not draw the gauge")
            page_ms: list[float] = []
            api_ms: list[float] = []
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("warming up", total=args.warmup)
                for _ in range(args.warmup):
                    timed(page)
                    timed(api)
                    progress.advance(task)
                task = progress.add_task(f"{args.requests} requests each, in turns", total=args.requests)
                # In turns, so that both see the same state of the machine and the database.
                for _ in range(args.requests):
                    page_ms.append(timed(page))
                    api_ms.append(timed(api))
                    progress.advance(task)

    page_stats, api_stats = percentiles(page_ms), percentiles(api_ms)
    table = Table(title=f"{args.requests} requests each, {args.nights} nights of history (ms)")
    for column in ("request", "p50", "p95", "p99", "mean"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for name, stats in (("GET /today (page)", page_stats), ("GET /api/v1/readiness/today", api_stats)):
        table.add_row(name, *(f"{stats[key]:.2f}" for key in ("p50", "p95", "p99", "mean")))
    console.print(table)
    load, _, _ = os.getloadavg()
    console.print(f"machine: load average {load:.1f} over the last minute on {os.cpu_count()} CPUs")
    ratio_target = page_stats["p95"] / TARGET_P95_MS
    ratio_api = page_stats["p95"] / api_stats["p95"]
    passed = page_stats["p95"] <= TARGET_P95_MS
    console.print(f"page p95 / target ({TARGET_P95_MS:.0f} ms): {ratio_target:.2f}")
    console.print(f"page p95 / API p95 (same run): {ratio_api:.2f}")
    verdict = "[green]PASS[/green]" if passed else "[red]FAIL[/red]"
    console.print(f"{verdict}: page p95 {page_stats['p95']:.2f} ms (target ≤ {TARGET_P95_MS:.0f} ms)")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
