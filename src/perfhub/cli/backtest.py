"""``perfhub backtest``: readiness on a synthetic cohort with labelled episodes, against a
reference rule (docs/readiness.md#backtest). No database: everything is computed in memory, by
the same readings → batch path the service runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from perfhub.cli.jobs import emit, err, fail, progress_bar

ATHLETES = (1, 100_000)
DAYS = (90, 3650)
SERVED_SAMPLE = 20  # athletes served alone and compared with the cohort-wide batch


def backtest(
    athletes: Annotated[int, typer.Option(help=f"cohort size ({ATHLETES[0]}–{ATHLETES[1]})")] = 1000,
    days: Annotated[int, typer.Option(help=f"days per athlete ({DAYS[0]}–{DAYS[1]})")] = 365,
    seed: Annotated[int, typer.Option(help="the cohort's seed: the same seed, the same cohort")] = 0,
    out: Annotated[Path, typer.Option(help="directory for report.md and its charts")] = Path(
        "backtest-report"
    ),
) -> None:
    """Score readiness and the reference rule on a synthetic cohort; print the figures, write the report."""
    # Range errors are checked here, not by typer, so that they are one line like every other error.
    if not ATHLETES[0] <= athletes <= ATHLETES[1]:
        fail(f"--athletes must be between {ATHLETES[0]} and {ATHLETES[1]}, got {athletes}", 2)
    if not DAYS[0] <= days <= DAYS[1]:
        fail(f"--days must be between {DAYS[0]} and {DAYS[1]}, got {days}", 2)
    if seed < 0:
        fail(f"--seed must not be negative, got {seed}", 2)
    if out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a directory", 2)
    # Imported here so that `perfhub --help` does not load numpy and the engine.
    from perfhub.readiness.backtest.cohort import generate
    from perfhub.readiness.backtest.evaluate import evaluate, score_cohort, served_equals_batch
    from perfhub.readiness.backtest.report import summary, write_report

    with progress_bar() as bar:
        made = bar.add_task("generating the cohort", total=1)
        cohort = generate(athletes, days, seed=seed)
        bar.update(made, completed=1)
        scoring = bar.add_task("scoring readiness", total=athletes)
        scored = score_cohort(cohort, progress=lambda done, _total: bar.update(scoring, completed=done))
        serving = bar.add_task("served alone = batch", total=min(SERVED_SAMPLE, athletes))
        served = served_equals_batch(
            cohort,
            scored,
            sample=SERVED_SAMPLE,
            progress=lambda done, _total: bar.update(serving, completed=done),
        )
        counting = bar.add_task("counting and writing the report", total=1)
        methods, curve = evaluate(cohort, scored)
        figures = summary(cohort, seed, served, methods)
        try:
            path, _charts = write_report(figures, cohort, scored, curve, out)
        except OSError as exc:
            fail(f"cannot write the report into {out}: {exc}".splitlines()[0])
        bar.update(counting, completed=1)
    _print_figures(figures)
    err.print(f"report written to {path}", highlight=False)
    emit(figures)
    if not served.identical:
        # After the figures and the report, which say it too: the run must not pass for good.
        fail(
            f"served ≠ batch: {served.differing_days} of {served.athlete_days} athlete-days differ "
            f"on {served.differing_athletes} of {served.athletes} athletes served alone; first: "
            f"{served.first_difference}"
        )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _print_figures(figures: dict[str, Any]) -> None:
    """The key figures for a person, on stderr (stdout carries the JSON)."""
    table = Table(title=f"readiness {figures['algorithm']} against the reference rule (#15 targets)")
    for column in ("target", "goal", "readiness", "reference"):
        table.add_column(column, justify="left" if column == "target" else "right")

    def cell(entry: dict[str, Any]) -> str:
        value = entry["value"]
        shown = "–" if value is None else str(value) if isinstance(value, int) else _pct(value)
        colour = {True: "green", False: "red"}.get(entry["met"], "dim")
        return f"[{colour}]{shown}[/{colour}]"

    for mine, theirs in zip(figures["targets"]["readiness"], figures["targets"]["reference"], strict=True):
        table.add_row(mine["target"], mine["goal"], cell(mine), cell(theirs))
    err.print(table)
    ready = figures["readiness"]
    quiet = ready["quiet"]
    served = figures["served"]
    if served["identical"]:
        err.print(
            f"served = batch: identical on {served['athleteDays']} athlete-days "
            f"({served['athletes']} athletes)",
            highlight=False,
        )
    err.print(
        f"quiet days: {quiet['days']}, hrv_unusually_high on {_pct(quiet['unusuallyHigh'])}, "
        f"athletes with sleep_debt on most quiet days {_pct(quiet['sleepDebtAthletes'])}\n"
        f"sleep restriction days alarming {_pct(ready['sleep_restriction']['daysAlarming'])}, "
        f"flagged by day 4 {_pct(ready['sleep_restriction']['flaggedByDay4'])}",
        highlight=False,
    )
