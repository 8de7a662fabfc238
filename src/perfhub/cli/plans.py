"""``perfhub plan``: an athlete's training plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from perfhub.auth.service import user_by_email
from perfhub.cli.jobs import detail, emit, err, fail, job, progress_bar
from perfhub.core.dates import local_today
from perfhub.core.db import retry_on_conflict
from perfhub.plans.importing import MAX_FILE_BYTES, parse_file
from perfhub.plans.imports_service import RACE_LOST, ImportCount, import_sessions

plan_app = typer.Typer(help="Training plans.", no_args_is_help=True)

# Fewer sessions than this land in a blink: no progress bar for them.
PROGRESS_FROM = 100


@plan_app.command("import")
def plan_import(
    path: Annotated[Path, typer.Argument(help="the plan: a .csv or .ics file")],
    athlete: Annotated[str, typer.Option("--athlete", help="the athlete's email")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check the file and count, write nothing")
    ] = False,
) -> None:
    """Import a training plan (CSV or iCalendar) into an athlete's plan, as POST /plan/import
    does: valid rows are imported and the others listed in "errors"; sessions of an earlier
    import of the file (by UID) are updated, not planned twice. A file of which nothing can be
    imported is an error and writes nothing."""
    if not path.is_file():
        fail(f"no such file: {escape(str(path)[:200])}")
    if path.stat().st_size > MAX_FILE_BYTES:
        fail(f"{escape(path.name[:200])} is larger than a plan import accepts ({MAX_FILE_BYTES} bytes)")
    data = path.read_bytes()

    def told(exc: Exception) -> str | None:
        # Messages quote the file's own text: taken literally, never as markup.
        message = detail(exc)
        return None if message is None else escape(" ".join(message.split()))

    with job(told=told) as current:

        def attempt() -> tuple[ImportCount, dict[str, Any]]:
            with current.transaction() as session:
                person = user_by_email(session, athlete)
                plan = parse_file(data, tz=person.tz, today=local_today(person.tz), filename=path.name)
                total = len(plan.sessions)
                with progress_bar() as bar:
                    task = bar.add_task("importing sessions", total=total, visible=total >= PROGRESS_FROM)
                    count = import_sessions(
                        session,
                        None,
                        person,
                        plan,
                        dry_run=dry_run,
                        progress=lambda done, _: bar.update(task, completed=done),
                    )
                refusal = count.refusal()
                if refusal is not None:
                    raise refusal
                return count, count.to_json(plan.format, dry_run=dry_run)

        # An import of the same file running at the same time may create its sessions first:
        # this one then runs again and finds them.
        with current.guard():
            count, result = retry_on_conflict(attempt, gave_up=RACE_LOST)
        current.deliver()
    if count.errors:
        err.print(f'{len(count.errors)} rows or events were left out: see "errors"', highlight=False)
    emit(result)
