"""The cost of one new night: landing it and recomputing readiness, after 60 days vs 3 years.

After every ingest event the insights stage recomputes readiness from the night's date on
(``perfhub.readiness.service.refresh``). It reads only the window of history those days can
depend on (docs/readiness.md#incremental-recompute), so its cost must not grow with the
athlete's history. Measured here, in process, on SQLite (a file, as the embedded default) and on
PostgreSQL (a database of its own on the server of ``PERFHUB_TEST_DATABASE_URL``, dropped at the
end):

1. Athletes (``--athletes``, one and 50 by default) get the demo's synthetic nights
   (``perfhub.demo.synthetic``) for ``--short`` (60) or ``--long`` (1095) days, written straight
   into the canonical tables, and their readiness history is recomputed as ``perfhub recompute``
   does (not measured).
2. The clock (``time_machine``) moves to the morning of each next night; that night's HRV and
   sleep land in the canonical tables (the upsert the normalize stage does) and ``refresh`` runs
   for it, in one transaction, committed. ``--warmup`` nights first, then ``--repeats`` (30)
   timed, each a new date. The median of the total (land + refresh + commit) is the figure; the
   refresh alone is shown beside it.
3. For comparison, the whole-history recompute of the same athletes — what ``refresh`` did before
   it read a window — once the nights are in (median of 5).

    python bench/bench_recompute.py [--athletes 1 50] [--short 60] [--long 1095] [--repeats 30]
                                    [--warmup 3] [--backends sqlite postgres]

Target (issue 15): with 3 years of history a new night costs at most 2× what it costs with 60
days. Exit status 0 when every backend and athlete count passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

import numpy as np
import psycopg
import time_machine
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Table as SqlTable
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.migrate import upgrade
from perfhub.core.upsert import insert_rows, upsert
from perfhub.demo.profiles import AthleteProfile, make_profiles
from perfhub.demo.synthetic import generate_nights
from perfhub.readiness.queries import load_athletes
from perfhub.readiness.service import recompute, refresh
from perfhub.readings.models import HrvDaily, SleepDaily

console = Console(stderr=True)
PG_URL = os.environ.get("PERFHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_RATIO = 2.0
SEED = 15
# The last seeded night; the timed nights follow it. Any day would do: the clock is moved.
SEEDED_TO = date(2026, 3, 1)
MORNING = clock_time(7, 0, tzinfo=UTC)  # the athletes live in UTC: the night's own date


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    with TemporaryDirectory(prefix="perfhub-bench-recompute-") as work:
        url = f"sqlite:///{Path(work) / 'perfhub.db'}"
        upgrade(url)
        yield url


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"perfhub_bench_recompute_{uuid.uuid4().hex[:8]}"
    base, _, _ = PG_URL.rpartition("/")
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{base}/{name}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable() -> str | None:
    try:
        psycopg.connect(PG_URL, autocommit=True, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL unreachable at {PG_URL}: {exc}".splitlines()[0]
    return None


# --------------------------------------------------------------------------------------------
# Nights
# --------------------------------------------------------------------------------------------


@dataclass
class Athlete:
    user_id: int
    profile: AthleteProfile
    # The nights still to land, by date: (HRV row, sleep row) without the athlete's id.
    coming: dict[date, tuple[dict[str, Any], dict[str, Any]]]


def hrv_row(day: date, rmssd: float, resting_hr: float, vendor: str) -> dict[str, Any]:
    return {
        "date": day,
        "vendor": vendor,
        "rmssd_ms": rmssd,
        "ln_rmssd": math.log(rmssd),
        "sdnn_ms": None,
        "resting_hr": resting_hr,
        "captured_at": datetime.combine(day, MORNING),
    }


def sleep_row(
    day: date, minutes: float, efficiency: float, latency: float, wakes: int, vendor: str
) -> dict[str, Any]:
    return {
        "date": day,
        "vendor": vendor,
        "duration_min": float(minutes),
        "efficiency_pct": efficiency,
        "latency_min": latency,
        "wake_count": wakes,
        "captured_at": datetime.combine(day, MORNING),
    }


def nights_of(profile: AthleteProfile, days: int, coming: int) -> tuple[list[dict[str, Any]], ...]:
    """The demo's nights for ``days`` days to ``SEEDED_TO`` (with its gaps), and ``coming``
    complete nights after it: every timed night brings HRV and sleep."""
    hrv, sleep = generate_nights(profile, days + coming, SEEDED_TO + timedelta(days=coming), seed=SEED)
    seeded_hrv = [hrv_row(n.date, n.rmssd_ms, n.resting_hr, n.vendor) for n in hrv if n.date <= SEEDED_TO]
    seeded_sleep = [
        sleep_row(n.date, n.duration_min, n.efficiency_pct, n.latency_min, n.wake_count, n.vendor)
        for n in sleep
        if n.date <= SEEDED_TO
    ]
    rng = np.random.default_rng(SEED)
    later_hrv = {n.date: n for n in hrv if n.date > SEEDED_TO}
    later_sleep = {n.date: n for n in sleep if n.date > SEEDED_TO}
    new_hrv, new_sleep = [], []
    for offset in range(1, coming + 1):
        day = SEEDED_TO + timedelta(days=offset)
        night = later_hrv.get(day)
        if night is not None:
            new_hrv.append(hrv_row(day, night.rmssd_ms, night.resting_hr, night.vendor))
        else:  # the generator's gap: a plausible night instead
            rmssd = round(math.exp(profile.ln_rmssd_mean + rng.normal(0, profile.ln_rmssd_sd)), 1)
            new_hrv.append(
                hrv_row(day, rmssd, round(profile.resting_hr + rng.normal(0, 1), 1), profile.vendor)
            )
        rest = later_sleep.get(day)
        minutes = (
            rest.duration_min if rest else round(profile.sleep_mean_min + rng.normal(0, profile.sleep_sd_min))
        )
        new_sleep.append(sleep_row(day, minutes, 90.0, 12.0, 1, profile.vendor))
    return seeded_hrv, seeded_sleep, new_hrv, new_sleep


def seed(sessions: sessionmaker[Session], athletes: int, days: int, coming: int, label: str) -> list[Athlete]:
    profiles = [dataclasses.replace(p, tz="UTC") for p in make_profiles(athletes, seed=SEED)]
    out: list[Athlete] = []
    with progress_bar() as progress:
        task = progress.add_task(f"{label}: seeding {athletes} × {days} nights", total=athletes)
        with session_scope(sessions) as session:
            hrv: list[dict[str, Any]] = []
            sleep: list[dict[str, Any]] = []
            for index, profile in enumerate(profiles):
                user, _ = create_user(
                    session, f"bench{index}-of-{athletes}-{days}@bench.example", "athlete", tz="UTC"
                )
                seeded_hrv, seeded_sleep, new_hrv, new_sleep = nights_of(profile, days, coming)
                hrv += [row | {"user_id": user.id} for row in seeded_hrv]
                sleep += [row | {"user_id": user.id} for row in seeded_sleep]
                coming_nights = {h["date"]: (h, s) for h, s in zip(new_hrv, new_sleep, strict=True)}
                out.append(Athlete(user.id, profile, coming_nights))
                progress.advance(task)
            for rows, model in ((hrv, HrvDaily), (sleep, SleepDaily)):
                for start in range(0, len(rows), 20_000):
                    insert_rows(session, cast(SqlTable, model.__table__), rows[start : start + 20_000])
        task = progress.add_task(f"{label}: readiness history", total=athletes)
        ids = [a.user_id for a in out]
        with time_machine.travel(datetime.combine(SEEDED_TO, MORNING), tick=True):
            for start in range(0, len(ids), 50):
                with session_scope(sessions) as session:
                    users = users_of(session, ids[start : start + 50])
                    recompute(session, users, announce=False, progress=lambda n: progress.advance(task, n))
        with sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.connection().exec_driver_sql("ANALYZE")
            session.commit()
    return out


def users_of(session: Session, ids: list[int]) -> list[User]:
    return list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    total_ms: list[float]
    refresh_ms: list[float]
    whole_history_ms: list[float]
    readings_read: int  # HRV + sleep rows a refresh reads for one athlete


def land_and_refresh(
    sessions: sessionmaker[Session], athletes: list[Athlete], night: date
) -> tuple[float, float]:
    """One night for every athlete landed and refreshed in one transaction: (total, refresh) ms."""
    hrv = [athlete.coming[night][0] | {"user_id": athlete.user_id} for athlete in athletes]
    sleep = [athlete.coming[night][1] | {"user_id": athlete.user_id} for athlete in athletes]
    started = time.perf_counter()
    with session_scope(sessions) as session:
        upsert(session, cast(SqlTable, HrvDaily.__table__), hrv, ("user_id", "date", "vendor"))
        upsert(session, cast(SqlTable, SleepDaily.__table__), sleep, ("user_id", "date", "vendor"))
        landed = time.perf_counter()
        updates = refresh(session, {athlete.user_id: night for athlete in athletes})
    finished = time.perf_counter()
    if sum(night in update.changed for update in updates) != len(athletes):
        raise SystemExit(f"the refresh of {night} did not store every athlete's snapshot of the night")
    return (finished - started) * 1000, (finished - landed) * 1000


def measure(
    sessions: sessionmaker[Session], athletes: list[Athlete], warmup: int, repeats: int, label: str
) -> Timing:
    total, alone = [], []
    with progress_bar() as progress:
        task = progress.add_task(f"{label}: {warmup} + {repeats} new nights", total=warmup + repeats)
        for offset in range(1, warmup + repeats + 1):
            night = SEEDED_TO + timedelta(days=offset)
            with time_machine.travel(datetime.combine(night, MORNING), tick=True):
                all_ms, refresh_ms = land_and_refresh(sessions, athletes, night)
            if offset > warmup:
                total.append(all_ms)
                alone.append(refresh_ms)
            progress.advance(task)
        last = SEEDED_TO + timedelta(days=warmup + repeats)
        whole = []
        task = progress.add_task(f"{label}: whole-history recompute", total=5)
        with time_machine.travel(datetime.combine(last, MORNING), tick=True):
            for _ in range(5):
                started = time.perf_counter()
                with session_scope(sessions) as session:
                    recompute(session, users_of(session, [a.user_id for a in athletes]), announce=False)
                whole.append((time.perf_counter() - started) * 1000)
                progress.advance(task)
            with sessions() as session:
                (user,) = users_of(session, [athletes[0].user_id])
                (series,) = load_athletes(session, [user], {user.id: last})
                read = len(series.hrv["day"]) + len(series.sleep["day"])
    return Timing(total, alone, whole, read)


def run(url: str, backend: str, counts: list[int], args: argparse.Namespace) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    coming = args.warmup + args.repeats
    rows = []
    try:
        for count in counts:
            timings = {}
            for days in (args.short, args.long):
                label = f"{backend}, {count} athlete{'s' if count > 1 else ''}, {days} days"
                athletes = seed(sessions, count, days, coming, label)
                timings[days] = measure(sessions, athletes, args.warmup, args.repeats, label)
            short, long = timings[args.short], timings[args.long]
            ratio = statistics.median(long.total_ms) / statistics.median(short.total_ms)
            rows.append((backend, count, short, long, ratio))
    finally:
        engine.dispose()
    return rows


def medians(short: list[float], long: list[float]) -> str:
    return f"{statistics.median(short):.1f} / {statistics.median(long):.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--athletes", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--short", type=int, default=60)
    parser.add_argument("--long", type=int, default=1095)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    args = parser.parse_args()

    results: list[tuple[Any, ...]] = []
    for backend in args.backends:
        if backend == "sqlite":
            with sqlite_database() as url:
                results += run(url, backend, args.athletes, args)
            continue
        unreachable = postgres_reachable()
        if unreachable:
            console.print(f"[yellow]skipped PostgreSQL[/yellow]: {unreachable}")
            continue
        with postgres_database() as url:
            results += run(url, backend, args.athletes, args)

    table = Table(title=f"One new night landed, refreshed and committed: median of {args.repeats} (ms)")
    for column in ("backend", "athletes", f"{args.short} days", f"{args.long} days", "ratio"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    details = Table(title=f"Beside it ({args.short} days / {args.long} days)")
    for column in (
        "backend",
        "athletes",
        "refresh alone, ms",
        "whole-history recompute, ms",
        "readings read",
    ):
        details.add_column(column, justify="left" if column == "backend" else "right")
    passed = True
    for backend, count, short, long, ratio in results:
        ok = ratio <= TARGET_RATIO
        passed &= ok
        table.add_row(
            backend,
            str(count),
            f"{statistics.median(short.total_ms):.1f}",
            f"{statistics.median(long.total_ms):.1f}",
            f"[{'green' if ok else 'red'}]{ratio:.2f}[/]",
        )
        details.add_row(
            backend,
            str(count),
            medians(short.refresh_ms, long.refresh_ms),
            medians(short.whole_history_ms, long.whole_history_ms),
            f"{short.readings_read} / {long.readings_read}",
        )
    console.print(table)
    console.print(details)
    load, _, _ = os.getloadavg()
    console.print(f"machine: load average {load:.1f} over the last minute on {os.cpu_count()} CPUs")
    for backend, count, short, long, ratio in results:
        verdict = "[green]PASS[/green]" if ratio <= TARGET_RATIO else "[red]FAIL[/red]"
        console.print(
            f"{verdict}: {backend}, {count} athlete(s): {args.long} days "
            f"{statistics.median(long.total_ms):.1f} ms = {ratio:.2f}× {args.short} days "
            f"{statistics.median(short.total_ms):.1f} ms (target ≤ {TARGET_RATIO:.0f}×)"
        )
    if not results:
        console.print("[red]FAIL[/red]: nothing was measured")
        return 1
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
