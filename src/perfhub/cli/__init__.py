"""The ``perfhub`` command line. Machine-readable results are one JSON object on stdout;
progress and errors go to stderr; any error is one line and a non-zero exit.

Commands parse their arguments, call services inside a job (:mod:`perfhub.cli.jobs`) and print
the result; the job is the transaction boundary and turns errors into that one line."""

from __future__ import annotations

import typer

from perfhub.cli import backtest, ops, vendors
from perfhub.cli.db import db_app
from perfhub.cli.ops import dlq_app, keys_app
from perfhub.cli.plans import plan_app
from perfhub.cli.reports import report_app
from perfhub.cli.users import team_app, token_app, user_app
from perfhub.cli.vendors import import_app

app = typer.Typer(
    help="perfhub: wearable HRV, sleep and readiness for athletes and coaches.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# The order of registration is the order `perfhub --help` lists them in.
app.command()(ops.serve)
app.command()(ops.worker)
app.command("backfill")(vendors.backfill_command)
app.command()(ops.demo)
app.command()(ops.recompute)
app.command()(backtest.backtest)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(team_app, name="team")
app.add_typer(token_app, name="token")
app.add_typer(dlq_app, name="dlq")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(plan_app, name="plan")
app.add_typer(report_app, name="report")

__all__ = ["app", "main"]


def main() -> None:
    app()
