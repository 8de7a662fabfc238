"""``perfhub report``: reports for the people running a deployment (docs/pilot.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from perfhub.cli.jobs import err, fail, job, progress_bar
from perfhub.core.db import utcnow
from perfhub.core.errors import PerfhubError

report_app = typer.Typer(help="Reports for operators.", no_args_is_help=True)

FORMATS = ("md", "csv")


@report_app.command("pilot")
def report_pilot(
    from_: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD")] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="last day, YYYY-MM-DD (default: yesterday, UTC)")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="only this team's athletes (its id)")] = None,
    baseline_from: Annotated[
        str | None, typer.Option("--baseline-from", help="the baseline period's first day, for adherence")
    ] = None,
    baseline_to: Annotated[
        str | None, typer.Option("--baseline-to", help="the baseline period's last day")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="md (Markdown) or csv")] = "md",
    out: Annotated[Path | None, typer.Option("--out", help="directory to write the chart (SVG) into")] = None,
) -> None:
    """The pilot's success metrics (default: the 28 days to yesterday) on stdout: daily readiness
    coverage and before 07:00 local, ingest lag, plan adherence by adjustment and against a
    baseline period, OAuth links and dead letters, each pilot target met or not."""
    # Checked here, not by typer, so that every mistake is one line like every other error.
    from perfhub.reports.service import CLI_NAMES, STEPS, build_report, check_team, parse_query, parse_team

    if format_ not in FORMATS:
        fail(f"--format must be md or csv, got {format_[:40]!r}", 2)
    if out is not None and out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a directory", 2)
    now = utcnow()
    try:
        query = parse_query(
            from_,
            to,
            parse_team(team, CLI_NAMES),
            baseline_from,
            baseline_to,
            today=now.date(),
            names=CLI_NAMES,
        )
    except PerfhubError as exc:
        fail(exc.detail, 2)
    from perfhub.reports.chart import coverage_svg
    from perfhub.reports.presenter import CHART_FILE, csv_text, markdown

    with job() as current:
        with current.reading() as session:
            check_team(session, query)
        with progress_bar() as bar, current.reading() as session:
            task = bar.add_task("reading the pilot", total=STEPS)
            report = build_report(session, query, now, progress=lambda: bar.advance(task))
    chart = None
    if out is not None:
        chart = out / CHART_FILE
        try:
            out.mkdir(parents=True, exist_ok=True)
            chart.write_text(coverage_svg(report), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write the chart into {out}: {exc}".splitlines()[0])
        err.print(f"chart written to {chart}", highlight=False)
    if format_ == "csv":
        text = csv_text(report)
    else:
        hint = f"Chart: run with `--out DIR` to write it ({CHART_FILE})."
        text = markdown(report, chart=None if chart is None else chart.as_posix(), chart_hint=hint)
    sys.stdout.write(text)
    sys.stdout.flush()
