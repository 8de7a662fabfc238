"""The ``perfhub`` command line. Machine-readable results are one JSON object on stdout;
progress and errors go to stderr; any error is one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from perfhub.core.db import session_scope
from perfhub.core.errors import PerfhubError
from perfhub.runtime import Runtime
from perfhub.settings import Settings, get_settings

app = typer.Typer(
    help="perfhub: wearable HRV, sleep and readiness for athletes and coaches.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: service tokens, and any token's life cycle.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(team_app, name="team")
app.add_typer(token_app, name="token")
dlq_app = typer.Typer(
    help="Dead letters: events and payloads that could not be processed.", no_args_is_help=True
)
keys_app = typer.Typer(help="Message-signing keys.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(keys_app, name="keys")

err = Console(stderr=True)
T = TypeVar("T")


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def runtime(upgrade: bool = True) -> Iterator[Runtime]:
    settings = get_settings()
    try:
        if upgrade:
            from perfhub.core.migrate import upgrade as upgrade_schema

            upgrade_schema(settings.database_url)
        rt = Runtime.build(settings)
    except PerfhubError as exc:
        fail(exc.detail)
    except Exception as exc:  # an unreachable database, a bad URL: one line, not a traceback
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        fail(f"cannot open the database {_redact(settings.database_url)}: {reason}")
    try:
        yield rt
    finally:
        rt.close()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


def in_transaction(fn: Callable[..., T], *args: Any) -> T:
    with runtime() as rt:
        try:
            with session_scope(rt.sessions) as session:
                return fn(session, *args)
        except PerfhubError as exc:
            fail(exc.detail)
            raise  # unreachable; keeps type checkers content


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


# -- serve ---------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="API only; consumers run elsewhere")
    ] = False,
) -> None:
    """Upgrade the schema if needed, then serve the API (and, by default, the consumers)."""
    import uvicorn

    from perfhub.app import create_app
    from perfhub.core.migrate import upgrade as upgrade_schema

    settings = get_settings()
    served = served_url(host, port)
    if "base_url" not in settings.model_fields_set:
        # OAuth redirects and printed links must name the port actually served.
        settings = settings.model_copy(update={"base_url": served})
    try:
        upgrade_schema(settings.database_url)
    except Exception as exc:
        fail(f"cannot prepare the database {_redact(settings.database_url)}: {exc}".splitlines()[0])
    err.print(f"perfhub serving at {served}  (API docs: {served}/docs)", highlight=False)
    uvicorn.run(create_app(settings, run_workers=not no_workers), host=host, port=port, log_level="info")


def served_url(host: str, port: int) -> str:
    """The address a person on this machine opens for ``host:port`` (a wildcard bind is local too)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


# -- workers -------------------------------------------------------------------------------
@app.command()
def worker(
    stage: Annotated[str, typer.Argument(help="ingest | normalize | insights")],
    metrics_port: Annotated[int | None, typer.Option(min=1, max=65535, help="serve /metrics here")] = None,
) -> None:
    """Run one pipeline stage against NATS JetStream (needs PERFHUB_NATS_URL). Scale by running more."""
    import asyncio
    import logging
    import signal

    from perfhub.core.telemetry import setup_tracing
    from perfhub.pipeline.stages import STAGES
    from perfhub.pipeline.workers import BusRuntime

    if stage not in STAGES:
        fail(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}", 2)
    settings = get_settings()
    if not settings.nats_url:
        fail(
            "perfhub worker needs PERFHUB_NATS_URL (the embedded default runs consumers inside perfhub serve)"
        )
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    setup_tracing(settings)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")

    async def main(rt: Runtime) -> None:
        side = BusRuntime(settings, rt.sessions, [stage])
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

    with runtime() as rt:
        asyncio.run(main(rt))


# -- dead letters ----------------------------------------------------------------------------
@dlq_app.command("list")
def dlq_list(
    all_: Annotated[bool, typer.Option("--all", help="include replayed ones")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
) -> None:
    """Dead letters, newest first: one JSON object per line."""
    from sqlalchemy import select

    from perfhub.core.bus import DeadLetter

    with runtime() as rt, rt.sessions() as session:
        query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if not all_:
            query = query.where(DeadLetter.replayed_at.is_(None))
        for row in session.scalars(query):
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
    from perfhub.core.bus import replay_dead_letters

    if (dead_letter_id is None) == (not all_):
        fail("give a dead letter ID or --all", 2)

    with runtime() as rt:
        try:
            with session_scope(rt.sessions) as session:
                replayed = replay_dead_letters(session, None if all_ else dead_letter_id)
        except PerfhubError as exc:
            fail(exc.detail)
        if not rt.uses_nats:
            rt.bus.drain()
    emit({"replayed": replayed})


import_app = typer.Typer(help="Import exports from devices without a server API.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("apple-health")
def import_apple(
    path: Annotated[Path, typer.Argument(help="export.zip or export.xml from the Health app")],
    user: Annotated[str, typer.Option("--user", help="the athlete's email")],
) -> None:
    """Stream an Apple Health export into the athlete's nights (constant memory)."""
    from rich.markup import escape

    from perfhub.auth.service import user_by_email
    from perfhub.wearables.apple.errors import shown
    from perfhub.wearables.apple.service import import_limits, land_apple_health, read_apple_health, result_of

    # A file name, like everything read from the export, may hold escape sequences or rich markup:
    # printed only cut short, escaped (shown) and with its brackets taken literally (escape).
    if not path.is_file():
        fail(f"no such file: {escape(shown(str(path), 200))}")
    with runtime() as rt:
        try:
            with session_scope(rt.sessions) as session:
                athlete = user_by_email(session, user)
                athlete_id, tz = athlete.id, athlete.tz
            # Read with no transaction open (a large export takes minutes), then land in one.
            with progress_bar() as bar:
                task = bar.add_task(f"reading {escape(shown(path.name))}", total=path.stat().st_size)
                parsed = read_apple_health(
                    path,
                    user_id=athlete_id,
                    tz=tz,
                    limits=import_limits(rt.settings),
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            with session_scope(rt.sessions) as session:
                summary = land_apple_health(session, parsed)
        except PerfhubError as exc:
            fail(escape(exc.detail))
        if not rt.uses_nats:
            rt.bus.drain()
    # The same result as the upload endpoint's: the skip reasons and any message are in it.
    emit(result_of(summary))


@app.command("backfill")
def backfill_command(
    user: Annotated[str, typer.Option("--user", help="the athlete's email")],
    vendor: Annotated[str, typer.Option("--vendor", help="oura | whoop | google")],
    from_: Annotated[str, typer.Option("--from", help="first wake date, YYYY-MM-DD")],
    to: Annotated[str, typer.Option("--to", help="last wake date, YYYY-MM-DD")],
) -> None:
    """Fetch a linked athlete's history from a vendor into the pipeline (progress on stderr)."""
    from perfhub.auth.service import user_by_email
    from perfhub.core.dates import parse_date
    from perfhub.wearables.backfill import backfill, linked_connection

    if vendor not in ("oura", "whoop", "google"):
        fail(f"unknown vendor {vendor!r}; choose oura, whoop or google", 2)
    try:
        start, end = parse_date(from_, "from"), parse_date(to, "to")
    except PerfhubError as exc:
        fail(exc.detail, 2)
    if start > end:
        fail("--from is after --to", 2)
    with runtime() as rt:
        from perfhub.wearables.vendors.base import VendorError

        try:
            with session_scope(rt.sessions) as session, progress_bar() as bar:
                connection = linked_connection(session, user_by_email(session, user), vendor)
                task = bar.add_task(f"backfilling {vendor}", total=(end - start).days + 1)
                landed = backfill(
                    session,
                    rt.settings,
                    connection,
                    start,
                    end,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        except PerfhubError as exc:
            fail(exc.detail)
        except VendorError as exc:
            fail(f"{vendor}: {exc}")
        if not rt.uses_nats:
            rt.bus.drain()
    emit({"vendor": vendor, "records": landed, "from": start.isoformat(), "to": end.isoformat()})


@keys_app.command("generate")
def keys_generate(key_id: Annotated[str, typer.Argument(help="a name for the key, e.g. 2026-11")]) -> None:
    """A new Ed25519 signing key pair (see deploy/OPERATIONS.md for rotation)."""
    from perfhub.core.signing import generate_key

    private, public = generate_key()
    emit({"keyId": key_id, "private": private, "public": public})


# -- db ------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    with runtime(upgrade=True):
        pass


# -- users, teams, tokens -------------------------------------------------------------------
@user_app.command("add")
def user_add(
    email: str,
    role: Annotated[str, typer.Option(help="athlete | coach | admin")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    tz: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Oslo")] = "UTC",
) -> None:
    """Create a user; prints their API token once."""
    from perfhub.auth.service import create_user

    def _do(session: Any) -> dict[str, Any]:
        user, token = create_user(session, email, role, name=name, tz=tz)
        return {"id": user.id, "email": user.email, "role": user.role, "token": token}

    emit(in_transaction(_do))


@user_app.command("token")
def user_token(
    email: str,
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", help="expire after N days (default: never)")
    ] = None,
) -> None:
    """Issue another API token for an existing user (shown once; earlier tokens keep working)."""
    from perfhub.auth.schemas import TokenOut
    from perfhub.auth.service import create_token, user_by_email

    def _do(session: Any) -> dict[str, Any]:
        user = user_by_email(session, email)
        row, token = create_token(session, name, user.id, (), expires_in_days)
        return {**TokenOut.of(row, row.created_at).to_json(), "email": user.email, "token": token}

    emit(in_transaction(_do))


@team_app.command("add")
def team_add(name: str, coach: Annotated[str, typer.Option(help="the coach's email")]) -> None:
    """Create a team run by COACH."""
    from perfhub.auth.service import user_by_email
    from perfhub.teams.service import create_team

    def _do(session: Any) -> dict[str, Any]:
        team = create_team(session, name, user_by_email(session, coach))
        return {"id": team.id, "name": team.name}

    emit(in_transaction(_do))


@team_app.command("join")
def team_join(
    team_id: int,
    email: str,
    share: Annotated[str, typer.Option(help="signals to share: hrv,sleep,readiness,training")] = "",
) -> None:
    """Add an athlete to a team, sharing only the signals named."""
    from perfhub.auth.service import user_by_email
    from perfhub.teams.service import join_team, parse_signals

    def _do(session: Any) -> dict[str, Any]:
        membership = join_team(session, team_id, user_by_email(session, email), parse_signals(share))
        return {
            "teamId": membership.team_id,
            "userId": membership.athlete_id,
            "sharing": membership.sharing(),
        }

    emit(in_transaction(_do))


@token_app.command("add")
def token_add(
    name: str,
    scope: Annotated[str, typer.Option(help="ingest")],
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", help="expire after N days (default: never)")
    ] = None,
) -> None:
    """Create a service token (shown once; `token list` shows its id and expiry)."""
    from perfhub.auth.service import issue_token

    def _do(session: Any) -> dict[str, Any]:
        scopes = tuple(s.strip() for s in scope.split(",") if s.strip())
        # Exactly these keys: the output is pinned by the external contract.
        return {"name": name, "token": issue_token(session, name, None, scopes, expires_in_days)}

    emit(in_transaction(_do))


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="this user's tokens (by email)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every token: users' and service tokens")] = False,
) -> None:
    """Service tokens (or a user's, or all), newest first: {"tokens": [...]}; never a token or its hash."""
    from perfhub.auth.schemas import TokenOut
    from perfhub.auth.service import list_tokens, user_by_email
    from perfhub.core.db import utcnow

    if user is not None and all_:
        fail("give --user or --all, not both", 2)

    def _do(session: Any) -> dict[str, Any]:
        now = utcnow()
        if user is not None:
            rows = list_tokens(session, user_id=user_by_email(session, user).id)
        else:
            rows = list_tokens(session, service=True, everything=all_)
        return {"tokens": [TokenOut.of(row, now).to_json() for row in rows]}

    emit(in_transaction(_do))


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="the token's id (from token list)")]) -> None:
    """Revoke a token at once; requests with it are refused with 401 "token revoked"."""
    from perfhub.auth.schemas import TokenOut
    from perfhub.auth.service import get_token, revoke_token

    def _do(session: Any) -> dict[str, Any]:
        row = revoke_token(session, get_token(session, token_id))
        return TokenOut.of(row, row.revoked_at or row.created_at).to_json()

    emit(in_transaction(_do))


@token_app.command("rotate")
def token_rotate(
    token_id: Annotated[int, typer.Argument(help="the token's id (from token list)")],
    grace_minutes: Annotated[
        int, typer.Option("--grace-minutes", help="keep the old token working this long (0-60)")
    ] = 0,
) -> None:
    """Issue a new token with the same name, owner, scopes and lifetime (shown once) and revoke
    the old one, at once or after the grace period."""
    from datetime import timedelta

    from perfhub.auth.schemas import TokenOut
    from perfhub.auth.service import get_token, rotate_token

    def _do(session: Any) -> dict[str, Any]:
        old = get_token(session, token_id, for_update=True)
        row, token = rotate_token(session, old, timedelta(minutes=grace_minutes))
        return {**TokenOut.of(row, row.created_at).to_json(), "token": token, "replaces": token_id}

    emit(in_transaction(_do))


# -- demo ----------------------------------------------------------------------------------
@app.command()
def demo(
    athletes: Annotated[int, typer.Option(min=1, max=500)] = 12,
    days: Annotated[int, typer.Option(min=1, max=730)] = 120,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="do nothing if the demo exists")] = False,
    url: Annotated[
        str | None, typer.Option(help="address the demo will be served at (default PERFHUB_BASE_URL)")
    ] = None,
) -> None:
    """Seed a demo team with nightly history (all or nothing), then print how to log in."""
    from perfhub.demo.seed import COACH_EMAIL, credentials_path, demo_exists, seed_demo

    settings = get_settings()
    base = (url or settings.base_url).rstrip("/")
    with runtime() as rt:
        if demo_exists(rt.sessions):
            if not if_missing:
                saved = credentials_path(settings.var_dir)
                fail(f"the demo team exists already; log in with the tokens in {saved}")
            _print_login(settings, None, base)
            return
        with progress_bar() as bar:
            task = bar.add_task("ingesting demo athletes", total=athletes)
            try:
                credentials = seed_demo(
                    rt.sessions,
                    settings.var_dir,
                    athletes=athletes,
                    days=days,
                    progress=lambda done, _total: bar.update(task, completed=done),
                )
            except PerfhubError as exc:
                fail(f"the demo could not be seeded (nothing was kept): {exc.detail}")
            pending = rt.bus.pending()
            drain = bar.add_task("normalising", total=pending)
            while rt.bus.run_once():
                bar.update(drain, completed=pending - rt.bus.pending())
            bar.update(drain, completed=pending)
        _print_login(settings, credentials.to_json(), base)
        err.print(f"(saved to {credentials_path(settings.var_dir)}; coach is {COACH_EMAIL})", highlight=False)


@app.command()
def recompute(
    user: Annotated[str | None, typer.Option("--user", help="only this athlete (email)")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="first day to recompute, YYYY-MM-DD")] = None,
    chunk: Annotated[int, typer.Option(min=1, max=100_000, help="athletes per vectorised batch")] = 500,
) -> None:
    """Recompute readiness snapshots in batch (same functions as the live path, over whole arrays)."""
    from sqlalchemy import select

    from perfhub.auth.models import User
    from perfhub.auth.service import user_by_email
    from perfhub.core.dates import parse_date
    from perfhub.readiness.service import recompute as recompute_snapshots

    try:
        since_day = parse_date(from_, "from") if from_ else None
    except PerfhubError as exc:
        fail(exc.detail)
    with runtime() as rt:
        with rt.sessions() as session:
            try:
                ids = (
                    [user_by_email(session, user).id]
                    if user
                    else list(
                        session.scalars(select(User.id).where(User.role == "athlete").order_by(User.id))
                    )
                )
            except PerfhubError as exc:
                fail(exc.detail)
        changed = 0
        with progress_bar() as bar:
            task = bar.add_task("recomputing readiness", total=len(ids))
            for start in range(0, len(ids), chunk):
                with session_scope(rt.sessions) as session:
                    users = list(session.scalars(select(User).where(User.id.in_(ids[start : start + chunk]))))
                    since = {u.id: since_day for u in users} if since_day else None
                    updates = recompute_snapshots(
                        session, users, since, progress=lambda n: bar.advance(task, n)
                    )
                    changed += sum(len(u.changed) for u in updates)
                bar.update(task, completed=min(len(ids), start + chunk))
        rt.bus.drain()
    emit({"athletes": len(ids), "snapshots": changed})


def _print_login(settings: Settings, credentials: dict[str, Any] | None, base: str) -> None:
    from perfhub.demo.seed import COACH_EMAIL, credentials_path

    path = credentials_path(settings.var_dir)
    if credentials is None:
        credentials = json.loads(path.read_text()) if path.exists() else None
    print(f"perfhub demo ready at {base}  (API docs: {base}/docs)")
    if credentials is None:
        print(f"  the demo's tokens were saved to {path} when it was created, and that file is gone;")
        print(f"  issue a new one with: perfhub user token {COACH_EMAIL}")
        return
    coach = credentials["coach"]
    first = credentials["athletes"][0]
    print(f"  coach   {coach['email']}\n          token {coach['token']}")
    print(f"  athlete {first['email']}\n          token {first['token']}")
    print(f"  ingest service token {credentials['ingestToken']}")
    print(f"  all {len(credentials['athletes'])} athletes' tokens: {path}")
    print(f"  try: curl -H 'Authorization: Bearer {first['token']}' {base}/api/v1/hrv/daily")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
