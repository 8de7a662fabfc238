"""``perfhub backfill`` and ``perfhub import``: an athlete's history from a vendor or an export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from perfhub.cli.jobs import detail, emit, fail, job, progress_bar
from perfhub.core.errors import PerfhubError
from perfhub.wearables.vendors.registry import LINKABLE_VENDORS, vendor_list

import_app = typer.Typer(help="Import exports from devices without a server API.", no_args_is_help=True)


@import_app.command("apple-health")
def import_apple(
    path: Annotated[Path, typer.Argument(help="export.zip or export.xml from the Health app")],
    user: Annotated[str, typer.Option("--user", help="the athlete's email")],
) -> None:
    """Stream an Apple Health export into the athlete's nights (constant memory)."""
    from perfhub.auth.service import user_by_email
    from perfhub.wearables.apple.errors import shown
    from perfhub.wearables.apple.service import import_limits, land_apple_health, read_apple_health, result_of

    # A file name, like everything read from the export, may hold escape sequences or rich markup:
    # printed only cut short, escaped (shown) and with its brackets taken literally (escape).
    if not path.is_file():
        fail(f"no such file: {escape(shown(str(path), 200))}")

    def told(exc: Exception) -> str | None:
        message = detail(exc)
        return None if message is None else escape(message)

    with job(told=told) as current:
        with current.transaction() as session:
            athlete = user_by_email(session, user)
            athlete_id, tz = athlete.id, athlete.tz
        # Read with no transaction open (a large export takes minutes), then land in one.
        with current.guard(), progress_bar() as bar:
            task = bar.add_task(f"reading {escape(shown(path.name))}", total=path.stat().st_size)
            parsed = read_apple_health(
                path,
                user_id=athlete_id,
                tz=tz,
                limits=import_limits(current.settings),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        with current.transaction() as session:
            summary = land_apple_health(session, parsed)
        current.deliver()
    # The same result as the upload endpoint's: the skip reasons and any message are in it.
    emit(result_of(summary))


def backfill_command(
    user: Annotated[str, typer.Option("--user", help="the athlete's email")],
    vendor: Annotated[str, typer.Option("--vendor", help=vendor_list(" | ", " | "))],
    from_: Annotated[str, typer.Option("--from", help="first wake date, YYYY-MM-DD")],
    to: Annotated[str, typer.Option("--to", help="last wake date, YYYY-MM-DD")],
) -> None:
    """Fetch a linked athlete's history from a vendor into the pipeline (progress on stderr)."""
    from perfhub.auth.service import user_by_email
    from perfhub.core.dates import parse_date
    from perfhub.wearables.backfill import backfill, linked_connection

    if vendor not in LINKABLE_VENDORS:
        fail(f"unknown vendor {vendor!r}; choose {vendor_list()}", 2)
    try:
        start, end = parse_date(from_, "from"), parse_date(to, "to")
    except PerfhubError as exc:
        fail(exc.detail, 2)
    if start > end:
        fail("--from is after --to", 2)
    from perfhub.wearables.vendors.errors import VendorError

    def told(exc: Exception) -> str | None:
        return f"{vendor}: {exc}" if isinstance(exc, VendorError) else detail(exc)

    with job(told=told) as current:
        with current.transaction() as session, progress_bar() as bar:
            connection = linked_connection(session, user_by_email(session, user), vendor)
            task = bar.add_task(f"backfilling {vendor}", total=(end - start).days + 1)
            landed = backfill(
                session,
                current.settings,
                connection,
                start,
                end,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        current.deliver()
    emit({"vendor": vendor, "records": landed, "from": start.isoformat(), "to": end.isoformat()})
