"""Proposals remade after ``insights.updated``, for a team of 200 athletes with 12 weeks of plans.

Target (issue 14): regenerating proposals keeps within the pipeline's lag budget — p99 ≤ 2 s
from a night's ingest to its athlete's proposal being written or updated, at the pipeline
benchmark's offered rate (``bench_pipeline.py``, 520 events/s), measured in the same run against
the same pipeline without the ``plans`` consumer.

A database of its own is created on the server of ``PERFHUB_TEST_DATABASE_URL``, seeded and
dropped at the end (a second one, cloned from it, for the run without plans):

- athletes with ``--history-days`` of canonical HRV and sleep before the nights to deliver
  (``bench_pipeline.seed``); 200 of them in one team whose coach they share everything with;
- 12 weeks of planned sessions each, six before today and six from today on (today a hard
  session, so it is adjustable), the past ones mostly completed, so the load is known;
- the team's readiness history computed in batch, as ``perfhub recompute`` does.

Then nights are delivered to the API and three workers (PostgreSQL + NATS JetStream) at
``--rate`` events/s, in the pipeline benchmark's shape: one night per athlete, the team among as
many other athletes (with no plans) as the rate needs (``bench_pipeline.seed`` and
``deliveries``). With ``--nights`` N > 1 every athlete delivers their last N nights newest
first, and fewer athletes fill the rate (the team alone at ``--nights 26``): a backfill, where
every older night rewrites the readiness of the days after it, today's included, so each
delivery asks for today's proposal again. Today's night is a poor one, so most of the team's
hard sessions of today get a proposal.

Per delivery the end-to-end time runs from its landing (the API's own stamp) to the commit of the
``plans`` consumer's pass over the first ``insights.updated`` of that athlete after the delivery
was normalised: the proposal written, updated, or found up to date. Commits are stamped by
deferred triggers in the benchmark's database (they run at COMMIT, with the server's clock). The
same deliveries without the ``plans`` consumer give the comparison: landing to the readiness
commit. Last, ``refresh_proposals`` for the whole team in process: writing every proposal (the
clone, where the pipeline made none; rolled back each time) and again once they are all there.

    python bench/bench_plans.py [--athletes 200] [--rate 520] [--seconds 20] [--nights 1] [--history-days 60]

Exit status 0 when the end-to-end p99 with the proposals is within 2 s and nothing was lost.
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Table as SqlTable
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_pipeline  # the pipeline benchmark's seeding, deliveries and pacer
from perfhub.auth.models import User
from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.upsert import insert_rows
from perfhub.plans.adjust import TYPE_RPE
from perfhub.plans.models import PlannedSession, SessionAdjustment
from perfhub.plans.service import refresh_proposals
from perfhub.readiness.service import recompute
from perfhub.teams.models import TeamMembership
from perfhub.teams.schemas import SIGNALS
from perfhub.teams.service import create_team
from perfhub.training.load import session_load
from perfhub.training.models import CompletedSession

console = Console(stderr=True)
PG_URL = bench_pipeline.PG_URL
NATS_URL = bench_pipeline.NATS_URL
TARGET_P99_S = 2.0
PLAN_WEEKS_BACK, PLAN_WEEKS_AHEAD = 6, 6
# Days after today, modulo a week: today is hard, so a poor night adjusts it.
WEEK: tuple[tuple[str, int], ...] = (
    ("hard", 60),
    ("easy", 45),
    ("moderate", 70),
    ("hard", 55),
    ("easy", 40),
    ("moderate", 90),
    ("rest", 0),
)

# Commit stamps: constraint triggers deferred to COMMIT, writing the server's wall clock.
COMMIT_LOG = """
CREATE TABLE bench_commit (kind text NOT NULL, outbox_id bigint, user_id integer, at timestamptz NOT NULL);
CREATE FUNCTION bench_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'outbox' THEN
    INSERT INTO bench_commit VALUES ('insights', NEW.id, NEW.user_id, clock_timestamp());
  ELSIF TG_TABLE_NAME = 'outbox_delivery' THEN
    INSERT INTO bench_commit VALUES ('plans', NEW.outbox_id, NULL, clock_timestamp());
  ELSE
    INSERT INTO bench_commit VALUES ('proposal', NULL, NEW.athlete_id, clock_timestamp());
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER bench_insights AFTER INSERT ON outbox DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.subject = 'insights.updated') EXECUTE FUNCTION bench_stamp();
CREATE CONSTRAINT TRIGGER bench_plans AFTER INSERT OR UPDATE ON outbox_delivery
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.consumer = 'alerts' AND NEW.status = 'done')
  EXECUTE FUNCTION bench_stamp();
CREATE CONSTRAINT TRIGGER bench_proposal AFTER INSERT OR UPDATE ON session_adjustment
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench_stamp();
"""


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return dict.fromkeys(("p50", "p95", "p99", "max"), float("inf"))
    values = np.asarray(samples)
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "p99": float(np.percentile(values, 99)),
        "max": float(values.max()),
    }


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


@contextmanager
def databases(tag: str) -> Iterator[tuple[str, str]]:
    """The seeded database's name and its clone's; both dropped at the end."""
    names = (f"perfhub_bench_plans_{tag}", f"perfhub_bench_plans_{tag}_b")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL unreachable at {PG_URL}: {exc}".splitlines()[0]) from exc
    with admin:
        admin.execute(f'CREATE DATABASE "{names[0]}"')
    try:
        yield names
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clone(source: str, target: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


def seed_team(sessions: sessionmaker[Session], ids: list[int], today: date) -> tuple[int, int, int]:
    """A coach and a team of ``ids`` sharing everything; their 12 weeks of plans and what was
    done of the past ones. Returns (team id, planned sessions, completions)."""
    rng = np.random.default_rng(14)
    days = [today + timedelta(days=d) for d in range(-7 * PLAN_WEEKS_BACK, 7 * PLAN_WEEKS_AHEAD)]
    planned = completed = 0
    with progress_bar() as progress:
        task = progress.add_task("plans and completions", total=len(ids))
        with session_scope(sessions) as session:
            coach, _ = create_user(session, "coach@bench.example", "coach", name="Bench Coach")
            team_id = create_team(session, "Bench squad", coach).id
            insert_rows(
                session,
                cast(SqlTable, TeamMembership.__table__),
                [
                    {"team_id": team_id, "athlete_id": athlete} | {f"share_{s}": True for s in SIGNALS}
                    for athlete in ids
                ],
            )
            coach_id = coach.id
        for start in range(0, len(ids), 25):
            with session_scope(sessions) as session:
                rows, shapes = [], []
                for athlete in ids[start : start + 25]:
                    for day in days:
                        kind, minutes = WEEK[(day - today).days % 7]
                        rows.append(
                            {
                                "athlete_id": athlete,
                                "date": day,
                                "sport": "running",
                                "title": f"{kind} run",
                                "type": kind,
                                "duration_min": minutes,
                                "intensity": None
                                if kind == "rest"
                                else {"kind": "zone", "value": 4 if kind == "hard" else 2},
                                "planned_load": round(TYPE_RPE[kind] * minutes, 1),
                                "source": "manual",
                                "created_by_id": coach_id,
                            }
                        )
                        shapes.append((athlete, day, kind, minutes))
                made = session.execute(
                    insert(PlannedSession).returning(PlannedSession.id, sort_by_parameter_order=True), rows
                ).scalars()
                done = []
                for planned_id, (athlete, day, kind, minutes) in zip(made, shapes, strict=True):
                    if day >= today or kind == "rest" or rng.random() < 0.1:
                        continue
                    rpe = float(TYPE_RPE[kind] + rng.integers(-1, 2))
                    duration = float(round(minutes * rng.uniform(0.9, 1.1)))
                    done.append(
                        {
                            "athlete_id": athlete,
                            "date": day,
                            "sport": "running",
                            "duration_min": duration,
                            "rpe": rpe,
                            "rpe_estimated": False,
                            "load": session_load(rpe, duration),
                            "planned_session_id": planned_id,
                            "source": "manual",
                            "entered_by_id": athlete,
                        }
                    )
                insert_rows(session, cast(SqlTable, CompletedSession.__table__), done)
                planned += len(rows)
                completed += len(done)
            progress.advance(task, len(ids[start : start + 25]))
        task = progress.add_task("readiness history", total=len(ids))
        for start in range(0, len(ids), 50):
            with session_scope(sessions) as session:
                users = list(session.scalars(select(User).where(User.id.in_(ids[start : start + 50]))))
                recompute(session, users, announce=False, progress=lambda n: progress.advance(task, n))
    return team_id, planned, completed


def poor_today(items: list[tuple[str, dict[str, Any]]], today: str) -> list[tuple[str, dict[str, Any]]]:
    """The pipeline benchmark's deliveries, with today's night a poor one (low HRV, raised
    resting HR, short sleep): most athletes' hard session of today gets a proposal."""
    rng = random.Random(14)
    out = []
    for kind, body in items:
        if body["date"] == today:
            body = dict(body)
            if kind == "hrv":
                body.update(rMSSD=round(rng.uniform(18, 28), 1), restingHr=round(rng.uniform(62, 70), 1))
            else:
                body.update(durationMin=rng.randint(280, 340), efficiencyPct=rng.randint(70, 80))
        out.append((kind, body))
    return out


# --------------------------------------------------------------------------------------------
# A run through the real pipeline
# --------------------------------------------------------------------------------------------

# The insights worker with its consumer of insights.updated nudging only: the proposals it
# makes in the same transaction are left out (the comparison's pipeline, as before plans).
WITHOUT_PLANS = (
    "import sys\n"
    "import perfhub.pipeline.stages.alerts as followups\n"
    "followups.refresh_proposals = lambda session, days: None\n"
    "from perfhub.cli import main\n"
    "sys.argv = ['perfhub', 'worker', 'insights']\n"
    "main()\n"
)


def run_pipeline(
    url: str,
    token: str,
    items: list[tuple[str, dict[str, Any]]],
    team: set[int],
    args: argparse.Namespace,
    *,
    plans: bool,
) -> dict[str, Any]:
    """API + ingest, normalize and insights workers on ``url``; the deliveries offered at the
    rate; per delivery the readiness and (with ``plans``) the proposals' commit after landing."""
    tag = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="perfhub-bench-plans-"))
    port = 18000 + random.randint(0, 999)
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": url,
        "PERFHUB_NATS_URL": NATS_URL,
        "PERFHUB_NATS_SUBJECT_PREFIX": f"p{tag}.",
        "PERFHUB_NATS_STREAM_PREFIX": f"P{tag}",
        "PERFHUB_SECRET_KEY": "bench-plans-" + "x" * 24,
        "PERFHUB_VAR_DIR": str(workdir),
    }
    cmd = [sys.executable, "-m", "perfhub.cli"]
    processes: list[subprocess.Popen[bytes]] = []
    log = (workdir / "processes.log").open("wb")
    try:
        processes.append(
            subprocess.Popen(
                [*cmd, "serve", "--no-workers", "--port", str(port)], env=env, stdout=log, stderr=log
            )
        )
        for stage in ("ingest", "normalize"):
            processes.append(subprocess.Popen([*cmd, "worker", stage], env=env, stdout=log, stderr=log))
        insights = [*cmd, "worker", "insights"] if plans else [sys.executable, "-c", WITHOUT_PLANS]
        processes.append(subprocess.Popen(insights, env=env, stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"the API did not become ready; see {workdir / 'processes.log'}")
        time.sleep(2)  # the workers' subscriptions
        label = "with" if plans else "without"
        console.print(f"offering {len(items)} deliveries at {args.rate:g}/s, {label} the proposals …")
        accepted, _ = asyncio.run(
            bench_pipeline.offer(f"http://127.0.0.1:{port}", token, items, args.rate, args.batch)
        )
        with psycopg.connect(url) as conn:
            wait_done(conn, plans)
            return {"accepted": accepted, **measure(conn, plans, team)}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        asyncio.run(drop_streams(f"P{tag}"))


async def drop_streams(prefix: str) -> None:
    import nats

    connection = await nats.connect(NATS_URL)
    try:
        js = connection.jetstream()
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(prefix + "_"):
                await js.delete_stream(info.config.name)
    finally:
        await connection.close()


def wait_done(conn: psycopg.Connection[Any], plans: bool, timeout: float = 600) -> None:
    """Until every event is published and the stages measured have settled every one of theirs."""
    settled = (
        "EXISTS (SELECT 1 FROM outbox_delivery d WHERE d.outbox_id = o.id AND d.status IN ('done','dead')"
    )
    queries = [
        "SELECT count(*) FROM outbox o WHERE o.published_at IS NULL",
        "SELECT count(*) FROM outbox o WHERE o.subject IN ('vendor.data.received','data.normalized') "
        f"AND NOT {settled})",
    ]
    if plans:
        queries.append(
            f"SELECT count(*) FROM outbox o WHERE o.subject = 'insights.updated' AND NOT {settled} "
            "AND d.consumer = 'alerts')"
        )
    deadline = time.monotonic() + timeout
    with progress_bar() as progress:
        task = progress.add_task("pipeline draining", total=None)
        while time.monotonic() < deadline:
            busy = 0
            for query in queries:
                row = conn.execute(query).fetchone()
                busy += int(row[0]) if row else 0
            conn.commit()
            progress.update(task, description=f"pipeline draining: {busy} events to go")
            if busy == 0:
                return
            time.sleep(0.25)
    raise SystemExit("the pipeline did not finish")


def measure(conn: psycopg.Connection[Any], plans: bool, team: set[int]) -> dict[str, Any]:
    """Per delivery, landing → readiness commit (all, and the team's); with ``plans``, landing →
    the commit of the proposals' pass over that readiness (the team's deliveries)."""
    deliveries = conn.execute(
        "SELECT r.user_id, r.received_at, d.updated_at FROM raw_event r "
        "JOIN outbox o ON o.subject = 'vendor.data.received' AND (o.payload->>'rawEventId')::int = r.id "
        "JOIN outbox_delivery d ON d.outbox_id = o.id AND d.consumer = 'normalize'"
    ).fetchall()
    commits: dict[int, list[tuple[datetime, int]]] = {}
    for outbox_id, user_id, at in conn.execute(
        "SELECT outbox_id, user_id, at FROM bench_commit WHERE kind = 'insights' ORDER BY at"
    ):
        commits.setdefault(user_id, []).append((at, outbox_id))
    planned = dict(
        conn.execute("SELECT outbox_id, min(at) FROM bench_commit WHERE kind = 'plans' GROUP BY 1")
    )
    readiness, team_readiness, end_to_end, unmatched = [], [], [], 0
    for user_id, received, handled in deliveries:
        found = next(((at, oid) for at, oid in commits.get(user_id, []) if at >= handled), None)
        if found is None:
            unmatched += 1
            continue
        readiness.append((found[0] - received).total_seconds())
        if user_id not in team:
            continue
        team_readiness.append(readiness[-1])
        if plans:
            done = planned.get(found[1])
            if done is None:
                unmatched += 1
                continue
            end_to_end.append((done - received).total_seconds())
    writes = conn.execute("SELECT count(*) FROM bench_commit WHERE kind = 'proposal'").fetchone()
    proposals = conn.execute(
        "SELECT count(*) FROM session_adjustment a JOIN planned_session p ON p.id = a.session_id "
        "WHERE p.date = (now() AT TIME ZONE 'UTC')::date"
    ).fetchone()
    raw = conn.execute("SELECT count(*) FROM raw_event").fetchone()
    return {
        "readiness": readiness,
        "team_readiness": team_readiness,
        "end_to_end": end_to_end,
        "unmatched": unmatched,
        "raw": int(raw[0]) if raw else 0,
        "writes": int(writes[0]) if writes else 0,
        "proposals": int(proposals[0]) if proposals else 0,
    }


# --------------------------------------------------------------------------------------------
# In process
# --------------------------------------------------------------------------------------------


def time_refresh(
    sessions: sessionmaker[Session], ids: list[int], repeat: int
) -> tuple[list[float], list[float], int]:
    """Milliseconds of ``refresh_proposals`` for the whole team's today: writing every proposal
    (rolled back each time), then with all of them in place and nothing changed."""
    today = datetime.now(UTC).date()
    days = {athlete: [today] for athlete in ids}
    cold, warm = [], []
    written = 0
    with progress_bar() as progress:
        task = progress.add_task("refresh_proposals in process", total=2 * repeat)
        for _ in range(repeat):
            with sessions() as session:
                started = time.perf_counter()
                counts = refresh_proposals(session, days)
                cold.append((time.perf_counter() - started) * 1000)
                written = counts.proposed + counts.updated
                session.rollback()
            progress.advance(task)
        with session_scope(sessions) as session:
            refresh_proposals(session, days)
        for _ in range(repeat):
            with sessions() as session:
                started = time.perf_counter()
                refresh_proposals(session, days)
                warm.append((time.perf_counter() - started) * 1000)
                session.rollback()
            progress.advance(task)
    return cold, warm, written


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--athletes", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=520.0, help="offered events/s (the pipeline benchmark's)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the deliveries are offered for")
    parser.add_argument(
        "--history-days", type=int, default=60, help="canonical days before the delivered nights"
    )
    parser.add_argument("--batch", type=int, default=25, help="deliveries per request")
    parser.add_argument(
        "--nights",
        type=int,
        default=1,
        help="nights each athlete delivers, newest first. 1: the pipeline benchmark's shape, the team "
        "among as many other athletes (no plans) as the rate needs; more: the team alone, backfilling",
    )
    parser.add_argument("--repeat", type=int, default=5, help="in-process refresh_proposals runs")
    args = parser.parse_args()
    # Each athlete delivers HRV + sleep per night: as many athletes as the offered load needs.
    total = max(args.athletes, round(args.rate * args.seconds / (2 * args.nights)))
    tag = uuid.uuid4().hex[:8]
    with databases(tag) as (name, clone_name):
        url, clone_url = bench_pipeline.database(name), bench_pipeline.database(clone_name)
        console.print(
            f"seeding {total} athletes with {args.history_days} days of history, {args.athletes} of them "
            f"a team with {PLAN_WEEKS_BACK + PLAN_WEEKS_AHEAD} weeks of plans; "
            f"{args.nights} night(s) each to deliver …"
        )
        ids, token = bench_pipeline.seed(url, total, args.history_days, args.nights)
        team = ids[: args.athletes]
        today = datetime.now(UTC).date()
        engine = make_engine(url)
        team_id, planned, completed = seed_team(make_sessionmaker(engine), team, today)
        with engine.begin() as connection:
            connection.exec_driver_sql(COMMIT_LOG)
            connection.exec_driver_sql("ANALYZE")
        engine.dispose()
        clone(name, clone_name)
        console.print(f"team {team_id}: {planned:,} planned sessions, {completed:,} completed")
        # The team's deliveries spread evenly through the run, not all at its quiet start.
        others = ids[args.athletes :]
        step = max(1, len(others) // args.athletes)
        order = [
            athlete
            for index, member in enumerate(team)
            for athlete in (member, *others[index * step : (index + 1) * step])
        ] + others[len(team) * step :]
        items = poor_today(bench_pipeline.deliveries(order, args.nights), today.isoformat())

        with_plans = run_pipeline(url, token, items, set(team), args, plans=True)
        without = run_pipeline(clone_url, token, items, set(team), args, plans=False)

        engine = make_engine(clone_url)
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            if session.scalar(select(SessionAdjustment.id).limit(1)) is not None:
                raise SystemExit("the run without the proposals made proposals")
        cold, warm, written = time_refresh(sessions, team, args.repeat)
        engine.dispose()

    e2e = percentiles(with_plans["end_to_end"])
    team_without = percentiles(without["team_readiness"])
    table = Table(
        title=f"{len(items)} deliveries ({total} athletes × {args.nights} night(s), the team's "
        f"{len(with_plans['end_to_end'])}) offered at {args.rate:g}/s, API + 3 workers (ms)"
    )
    for column in ("measurement", "n", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    for label, samples in (
        ("team: landing → proposals committed", with_plans["end_to_end"]),
        ("team: landing → readiness committed, same run", with_plans["team_readiness"]),
        ("team: landing → readiness committed, without plans", without["team_readiness"]),
        ("all: landing → readiness committed, with plans", with_plans["readiness"]),
        ("all: landing → readiness committed, without plans", without["readiness"]),
    ):
        stats = percentiles(samples)
        table.add_row(
            label, str(len(samples)), *(f"{stats[k] * 1000:.0f}" for k in ("p50", "p95", "p99", "max"))
        )
    console.print(table)
    console.print(
        f"team, end to end with the proposals / readiness without them: "
        f"p99 ×{e2e['p99'] / team_without['p99']:.2f}, p50 ×{e2e['p50'] / team_without['p50']:.2f}"
    )
    console.print(
        f"proposals: {with_plans['proposals']} of the team's {args.athletes} sessions of today adjusted; "
        f"{with_plans['writes']:,} proposal writes over {len(with_plans['end_to_end']):,} team deliveries"
    )
    console.print(
        f"refresh_proposals in process, the whole team's today: writing {written} proposals "
        f"p50 {np.percentile(cold, 50):.0f} ms (max {max(cold):.0f}); "
        f"nothing changed p50 {np.percentile(warm, 50):.0f} ms (max {max(warm):.0f})"
    )
    load, _, _ = os.getloadavg()
    console.print(f"machine: load average {load:.1f} over the last minute on {os.cpu_count()} CPUs")
    lost = {
        "with": len(items) - with_plans["accepted"] + with_plans["unmatched"],
        "without": len(items) - without["accepted"] + without["unmatched"],
    }
    checks = {
        f"end-to-end p99 {e2e['p99']:.2f} s ≤ {TARGET_P99_S:.0f} s at {args.rate:g} events/s": e2e["p99"]
        <= TARGET_P99_S,
        f"every delivery measured (lost: {lost['with']} with plans, {lost['without']} without)": not any(
            lost.values()
        ),
    }
    for text, passed in checks.items():
        console.print(f"{'[green]PASS' if passed else '[red]FAIL'}[/]: {text}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
