"""``perfhub db``: the database schema."""

from __future__ import annotations

import typer

from perfhub.cli.jobs import job

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    with job(upgrade=True):
        pass
