"""``perfhub backtest``: readiness on a synthetic cohort with labelled episodes, against a
reference rule (docs/readiness.md#backtest). No database: everything is computed in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfhub.cli.jobs import emit, err, fail, progress_bar

ATHLETES = (1, 100_000)
DAYS = (90, 3650)


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
    from perfhub.readiness.backtest.evaluate import evaluate
    from perfhub.readiness.backtest.report import targets, write_report
    from perfhub.readiness.engine.rules import ALGORITHM_VERSION

    with progress_bar() as bar:
        made = bar.add_task("generating the cohort", total=1)
        cohort = generate(athletes, days, seed=seed)
        bar.update(made, completed=1)
        scoring = bar.add_task("scoring readiness", total=athletes)
        scored = evaluate(cohort, progress=lambda done, _total: bar.update(scoring, completed=done))
    figures = {
        "algorithm": ALGORITHM_VERSION,
        "athletes": athletes,
        "days": days,
        "seed": seed,
        **scored,
        "targets": {method: targets(scored[method]) for method in ("readiness", "reference")},
    }
    try:
        path = write_report(figures, out)
    except OSError as exc:
        fail(f"cannot write the report into {out}: {exc}".splitlines()[0])
    err.print(f"report written to {path}", highlight=False)
    emit(figures)
