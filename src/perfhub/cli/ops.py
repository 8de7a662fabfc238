"""Running a deployment: ``serve``, ``worker``, ``dlq``, ``keys``, ``demo`` and ``recompute``."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from perfhub.cli.jobs import emit, err, fail, job, progress_bar, redact
from perfhub.core.errors import PerfhubError
from perfhub.pipeline.runtime import Runtime
from perfhub.settings import Settings, get_settings

dlq_app = typer.Typer(
    help="Dead letters: events and payloads that could not be processed.", no_args_is_help=True
)
keys_app = typer.Typer(help="Message-signing keys.", no_args_is_help=True)


# -- serve ---------------------------------------------------------------------------------
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="API only; consumers run elsewhere")
    ] = False,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            min=1,
            max=64,
            help="API processes sharing the port (more than 1 needs --no-workers)",
        ),
    ] = 1,
) -> None:
    """Upgrade the schema if needed, then serve the API (and, by default, the consumers)."""
    import uvicorn

    from perfhub.app import create_app, settle_heap
    from perfhub.core.migrate import upgrade as upgrade_schema

    if processes > 1 and not no_workers:
        # Every process would run the consumers and the reconciler: N of each, racing.
        fail("--processes above 1 needs --no-workers (run the consumers in one other process)", 2)
    settings = for_role(get_settings(), "api" if no_workers else None)
    served = served_url(host, port)
    if "base_url" not in settings.model_fields_set:
        # OAuth redirects and printed links must name the port actually served.
        settings = settings.model_copy(update={"base_url": served})
    # No job here: the app builds and owns its runtime for as long as it serves.
    try:
        upgrade_schema(settings.database_url)
    except Exception as exc:
        fail(f"cannot prepare the database {redact(settings.database_url)}: {exc}".splitlines()[0])
    from perfhub.core.telemetry import configure_logging

    configure_logging(settings.log_level)
    shown = f" in {processes} processes" if processes > 1 else ""
    err.print(f"perfhub serving at {served}{shown}  (API docs: {served}/docs)", highlight=False)
    if processes == 1:
        app = settle_heap(create_app(settings, run_workers=not no_workers))
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    # Each process is started afresh and builds its app from the environment, so what this
    # process decided (the address served) goes there too.
    os.environ["PERFHUB_BASE_URL"] = settings.base_url
    os.environ["PERFHUB_SERVICE_NAME"] = settings.service_name
    # A generated key is made here, once: processes racing to make their own would not agree.
    settings.resolved_secret_key()
    uvicorn.run(
        "perfhub.app:create_api_app",
        factory=True,
        workers=processes,
        host=host,
        port=port,
        log_level="info",
    )


def for_role(settings: Settings, role: str | None) -> Settings:
    """Settings whose ``service_name`` names the process's role (``perfhub-api``,
    ``perfhub-insights``…) in traces and in the NATS connection list, unless set explicitly;
    ``None``: the all-in-one process, plain ``perfhub``."""
    if role is None or "service_name" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"service_name": f"{settings.service_name}-{role}"})


def served_url(host: str, port: int) -> str:
    """The address a person on this machine opens for ``host:port`` (a wildcard bind is local too)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


# -- workers -------------------------------------------------------------------------------
def worker(
    stage: Annotated[str, typer.Argument(help="ingest | normalize | insights")],
    metrics_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="serve /metrics, /healthz and /readyz here")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="interface for /metrics (0.0.0.0 in a container, for Prometheus)")
    ] = "127.0.0.1",
) -> None:
    """Run one pipeline stage against NATS JetStream (needs PERFHUB_NATS_URL). Scale by running more."""
    import asyncio
    import signal

    from perfhub.core.telemetry import configure_logging, setup_tracing
    from perfhub.pipeline.stages import STAGES
    from perfhub.pipeline.workers import BusRuntime

    if stage not in STAGES:
        fail(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}", 2)
    settings = for_role(get_settings(), stage)
    if not settings.nats_url:
        fail(
            "perfhub worker needs PERFHUB_NATS_URL (the embedded default runs consumers inside perfhub serve)"
        )
    configure_logging(settings.log_level)
    setup_tracing(settings)
    # The worker and its runtime, once built: /readyz reads their state. The port is bound first,
    # so a bad address fails in one line before anything else starts.
    running: list[BusRuntime] = []
    runtimes: list[Runtime] = []
    if metrics_port:
        from perfhub.core.metrics import drop_database_gauges
        from perfhub.pipeline.worker_http import serve_operations

        drop_database_gauges()  # the API reports them

        # Loopback unless asked: the metrics name consumers and counts, nothing for the world.
        try:
            serve_operations(
                metrics_host,
                metrics_port,
                lambda: running[0] if running else None,
                lambda: bool(runtimes) and runtimes[0].database_ok(),
            )
        except OSError as exc:
            fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}")

    async def main(rt: Runtime) -> None:
        runtimes.append(rt)
        side = BusRuntime(settings, rt.sessions, [stage], database_gauges=False)
        running.append(side)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, side.stop_event.set)
        try:
            await side.start()
        except Exception as exc:
            fail(f"cannot reach NATS at {settings.nats_url}: {exc}".splitlines()[0])
        err.print(f"worker {stage} running (pid {os.getpid()})", highlight=False)
        await side.stop_event.wait()
        await side.stop()
        err.print(f"worker {stage} stopped", highlight=False)

    with job() as current:
        asyncio.run(main(current.rt))


# -- dead letters ----------------------------------------------------------------------------
@dlq_app.command("list")
def dlq_list(
    all_: Annotated[bool, typer.Option("--all", help="include replayed ones")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
) -> None:
    """Dead letters, newest first: one JSON object per line."""
    from perfhub.core.dead_letters import list_dead_letters

    with job() as current, current.reading() as session:
        for row in list_dead_letters(session, include_replayed=all_, limit=limit):
            emit(
                {
                    "id": row.id,
                    "subject": row.subject,
                    "consumer": row.consumer,
                    "userId": row.user_id,
                    "reason": row.reason,
                    "attempts": row.attempts,
                    "createdAt": row.created_at.isoformat(),
                    "replayedAt": row.replayed_at.isoformat() if row.replayed_at else None,
                    "payload": row.payload,
                }
            )


@dlq_app.command("replay")
def dlq_replay(
    dead_letter_id: Annotated[int | None, typer.Argument(help="the dead letter's id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter not yet replayed")] = False,
) -> None:
    """Publish dead letters again to their subject (after fixing what made them fail)."""
    from perfhub.core.outbox import replay_dead_letters

    if (dead_letter_id is None) == (not all_):
        fail("give a dead letter ID or --all", 2)

    with job() as current:
        with current.transaction() as session:
            replayed = replay_dead_letters(session, None if all_ else dead_letter_id)
        current.deliver()
    emit({"replayed": replayed})


# -- keys ----------------------------------------------------------------------------------
@keys_app.command("generate")
def keys_generate(key_id: Annotated[str, typer.Argument(help="a name for the key, e.g. 2026-11")]) -> None:
    """A new Ed25519 signing key pair (see deploy/OPERATIONS.md for rotation)."""
    from perfhub.core.signing import generate_key

    private, public = generate_key()
    emit({"keyId": key_id, "private": private, "public": public})


# -- demo ----------------------------------------------------------------------------------
def demo(
    athletes: Annotated[int, typer.Option(min=1, max=500)] = 12,
    days: Annotated[int, typer.Option(min=1, max=730)] = 120,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="do nothing if the demo exists")] = False,
    url: Annotated[
        str | None, typer.Option(help="address the demo will be served at (default PERFHUB_BASE_URL)")
    ] = None,
) -> None:
    """Seed a demo team with nightly history (all or nothing), then print how to log in."""
    from perfhub.demo.seed import COACH_EMAIL, credentials_path, demo_exists, ensure_demo_passwords, seed_demo

    settings = get_settings()
    base = (url or settings.base_url).rstrip("/")

    def told(exc: Exception) -> str | None:
        if isinstance(exc, PerfhubError):
            return f"the demo could not be seeded (nothing was kept): {exc.detail}"
        return None

    with job() as current:
        if demo_exists(current.rt.sessions):
            if not if_missing:
                saved = credentials_path(settings.var_dir)
                fail(f"the demo team exists already; log in with the tokens in {saved}")
            ensure_demo_passwords(current.rt.sessions, settings.var_dir)
            _print_login(settings, None, base)
            return
        with progress_bar() as bar:
            task = bar.add_task("ingesting demo athletes", total=athletes)
            # seed_demo is its own unit of work: all athletes or none.
            with current.guard(told):
                credentials = seed_demo(
                    current.rt.sessions,
                    settings.var_dir,
                    athletes=athletes,
                    days=days,
                    progress=lambda done, _total: bar.update(task, completed=done),
                )
            bus = current.rt.bus
            pending = bus.pending()
            drain = bar.add_task("normalising", total=pending)
            while bus.run_once():
                bar.update(drain, completed=pending - bus.pending())
            bar.update(drain, completed=pending)
        _print_login(settings, credentials.to_json(), base)
        err.print(f"(saved to {credentials_path(settings.var_dir)}; coach is {COACH_EMAIL})", highlight=False)


def _print_login(settings: Settings, credentials: dict[str, Any] | None, base: str) -> None:
    from perfhub.demo.seed import COACH_EMAIL, credentials_path

    path = credentials_path(settings.var_dir)
    if credentials is None:
        credentials = json.loads(path.read_text()) if path.exists() else None
    print(f"perfhub demo ready at {base}  (API docs: {base}/docs)")
    if credentials is None:
        print(f"  the demo's tokens were saved to {path} when it was created, and that file is gone;")
        print(f"  issue a new one with: perfhub user token {COACH_EMAIL}")
        print(f"  and a password with:  perfhub user password {COACH_EMAIL} --generate")
        return
    coach = credentials["coach"]
    first = credentials["athletes"][0]
    print(f"  sign in at {base}/ with an email and password:")
    people = [("coach", coach), ("athlete", first)]
    if credentials.get("admin"):
        people.append(("admin", credentials["admin"]))
    for label, person in people:
        print(f"  {label:<7} {person['email']}")
        print(f"          password {person.get('password', '-')}")
        print(f"          token {person['token']}")
    print(f"  ingest service token {credentials['ingestToken']}")
    print(f"  all {len(credentials['athletes'])} athletes' passwords and tokens: {path}")
    print(f"  try: curl -H 'Authorization: Bearer {first['token']}' {base}/api/v1/hrv/daily")


# -- recompute -------------------------------------------------------------------------------
def recompute(
    user: Annotated[str | None, typer.Option("--user", help="only this athlete (email)")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="first day to recompute, YYYY-MM-DD")] = None,
    chunk: Annotated[int, typer.Option(min=1, max=100_000, help="athletes per vectorised batch")] = 500,
) -> None:
    """Recompute readiness snapshots in batch (same functions as the live path, over whole arrays)."""
    from perfhub.auth.service import athlete_ids, user_by_email, users_by_ids
    from perfhub.core.dates import parse_date
    from perfhub.readiness.service import recompute as recompute_snapshots

    try:
        since_day = parse_date(from_, "from") if from_ else None
    except PerfhubError as exc:
        fail(exc.detail)
    with job() as current:
        with current.reading() as session:
            ids = [user_by_email(session, user).id] if user else athlete_ids(session)
        changed = 0
        with progress_bar() as bar:
            task = bar.add_task("recomputing readiness", total=len(ids))
            for start in range(0, len(ids), chunk):
                with current.transaction() as session:
                    users = users_by_ids(session, ids[start : start + chunk])
                    since = {u.id: since_day for u in users} if since_day else None
                    updates = recompute_snapshots(
                        session, users, since, progress=lambda n: bar.advance(task, n)
                    )
                    changed += sum(len(u.changed) for u in updates)
                bar.update(task, completed=min(len(ids), start + chunk))
        current.deliver()
    emit({"athletes": len(ids), "snapshots": changed})
