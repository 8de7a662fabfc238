"""The most any rule could catch of the backtest's overreaching, against what readiness catches.

    make bench-overreaching            # or: python bench/overreaching_bound.py --athletes 4000

A *clairvoyant* detector is told everything the backtest's cohort generator knows about each
athlete: the true ln rMSSD baseline, its night-to-night SD and AR(1) correlation, how resting HR
moves with HRV, and the episode's slope and length. It is not told when the episode began. Each
day it computes the exact likelihood ratio of "an episode began k nights ago" (k = 1 … 14)
against "quiet", from HRV and resting HR together, takes the largest, and alarms above the
threshold that gives 5 % false alarms on quiet days. It sees no missing nights, no device
offsets, no rounding and no training rhythm, and has no baseline to estimate: any rule that runs
on real readings does worse.

The figures are the backtest's own (docs/readiness.md#backtest): the share of overreaching
episodes flagged by their 4th day and of overreaching days alarming. Readiness and the
reference rule are measured on the ``perfhub backtest`` cohort in the same run, and readiness is
printed as a share of the bound. The issue's targets (≥ 80 % by day 4, ≥ 60 % of days, at most
5 % false alarms) are printed beside them: a target above the bound cannot be met on this cohort.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from perfhub.readiness.backtest import cohort as model
from perfhub.readiness.backtest.evaluate import EARLY_DAYS, evaluate, score_cohort

FALSE_ALARMS = 0.05
TARGET_BY_DAY_4 = 0.80
TARGET_DAYS = 0.60
LONGEST = model.EPISODE_DAYS[model.OVERREACHING][1]
QUIET_NIGHTS = LONGEST + 6  # before the onset: the last 7 days judge only quiet windows

F64 = NDArray[np.float64]
err = Console(stderr=True)


@dataclass(frozen=True)
class Bound:
    by_day_4: float
    days: float
    false_alarms: float
    per_day: F64  # detection on episode day 1, 2, … (of the episodes that long)


def _ar(k: int) -> F64:
    lags = np.arange(k)
    return np.asarray(model.AR_PHI ** np.abs(lags[:, None] - lags[None, :]), dtype=np.float64)


def _covariance(sd: float, widen: F64) -> F64:
    """Covariance of (HRV deviations, resting-HR deviations) over len(widen) nights: HRV noise is
    AR(1) with SD ``sd`` widened night by night; resting HR carries the same noise, turned and
    scaled, plus noise of its own."""
    k = len(widen)
    r = _ar(k)
    w = np.diag(widen)
    c = model.RHR_PER_HRV_SD
    hh = sd * sd * w @ r @ w
    hr = -c * sd * sd * w @ r
    rr = c * c * sd * sd * r + model.RHR_NOISE_BPM**2 * np.eye(k)
    return np.block([[hh, hr], [hr.T, rr]])


def _athlete(rng: np.random.Generator) -> tuple[F64, int]:
    """One athlete's likelihood-ratio statistic on each day of QUIET_NIGHTS quiet nights and
    then one overreaching episode, and the episode's length."""
    sd = rng.uniform(*model.HRV_SD)
    slope = rng.uniform(*model.OVERREACHING_SLOPE)
    lo, hi = model.EPISODE_DAYS[model.OVERREACHING]
    length = int(rng.integers(lo, hi + 1))
    nights = QUIET_NIGHTS + length
    z = rng.standard_normal(nights)
    noise = np.empty(nights)
    noise[0] = z[0]
    for t in range(1, nights):
        noise[t] = model.AR_PHI * noise[t - 1] + np.sqrt(1 - model.AR_PHI**2) * z[t]
    day = np.clip(np.arange(nights) - QUIET_NIGHTS + 1, 0, None).astype(np.float64)  # 0: quiet
    widen = np.where(day > 0, 1 + model.OVERREACHING_WIDENING * (day - 1) / max(length - 1, 1), 1.0)
    hrv = -slope * day + sd * widen * noise
    rhr = (
        -model.RHR_PER_HRV_SD * sd * noise
        + rng.normal(0.0, model.RHR_NOISE_BPM, nights)
        + model.OVERREACHING_RHR_PER_DAY * day
    )
    best = np.full(nights, -np.inf)
    for k in range(1, LONGEST + 1):
        j = np.arange(1, k + 1, dtype=np.float64)
        quiet = _covariance(sd, np.ones(k))
        episode = _covariance(sd, 1 + model.OVERREACHING_WIDENING * (j - 1) / max(length - 1, 1))
        mean = np.concatenate([-slope * j, model.OVERREACHING_RHR_PER_DAY * j])
        q0, q1 = np.linalg.inv(quiet), np.linalg.inv(episode)
        log_det = np.linalg.slogdet(episode)[1] - np.linalg.slogdet(quiet)[1]
        ends = np.arange(k - 1, nights)
        windows = np.stack([ends - k + 1 + i for i in range(k)], axis=1)
        v = np.concatenate([hrv[windows], rhr[windows]], axis=1)
        d = v - mean
        llr = 0.5 * (np.einsum("ni,ij,nj->n", v, q0, v) - np.einsum("ni,ij,nj->n", d, q1, d) - log_det)
        best[ends] = np.maximum(best[ends], llr)
    return best, length


def bound(athletes: int, seed: int) -> Bound:
    rng = np.random.default_rng(seed)
    stats: list[F64] = []
    lengths: list[int] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("clairvoyant detector", total=athletes)
        for _ in range(athletes):
            s, n = _athlete(rng)
            stats.append(s)
            lengths.append(n)
            progress.advance(task)
    quiet = np.concatenate([s[LONGEST - 1 : QUIET_NIGHTS] for s in stats])
    threshold = float(np.quantile(quiet, 1 - FALSE_ALARMS))
    alarms = [s[QUIET_NIGHTS:] > threshold for s in stats]
    per_day = np.array([np.mean([a[k] for a in alarms if len(a) > k]) for k in range(LONGEST)])
    return Bound(
        by_day_4=float(np.mean([a[:EARLY_DAYS].any() for a in alarms])),
        days=float(np.concatenate(alarms).mean()),
        false_alarms=float((quiet > threshold).mean()),
        per_day=per_day,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=4000, help="simulated athletes for the bound")
    parser.add_argument("--cohort", type=int, default=1000, help="athletes in the backtest cohort")
    parser.add_argument("--days", type=int, default=365, help="days in the backtest cohort")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 100 <= args.athletes <= 100_000 or not 10 <= args.cohort <= 10_000 or not 120 <= args.days <= 1100:
        usage = "--athletes 100–100000, --cohort 10–10000, --days 120–1100"
        print(f"overreaching_bound: {usage}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    best = bound(args.athletes, args.seed)
    err.print(f"bound computed in {time.perf_counter() - started:.1f} s")
    err.print(f"backtest: {args.cohort} athletes × {args.days} days, seed {args.seed}")
    cohort = model.generate(args.cohort, args.days, seed=args.seed)
    figures, _ = evaluate(cohort, score_cohort(cohort))

    def row(name: str) -> tuple[float, float, float]:
        episodes, quiet = figures[name]["overreaching"], figures[name]["quiet"]
        return episodes["flaggedByDay4"], episodes["daysAlarming"], quiet["falseAlarms"]

    readiness, reference = row("readiness"), row("reference")
    table = Table(title="Overreaching: flagged by day 4 and days alarming, against the clairvoyant bound")
    for column in ("", "flagged by day 4", "days alarming", "false alarms (quiet days)"):
        table.add_column(column, justify="right" if column else "left")
    targets = (f"≥ {TARGET_BY_DAY_4:.0%}", f"≥ {TARGET_DAYS:.0%}", f"≤ {FALSE_ALARMS:.0%}")
    table.add_row("target (issue)", *targets)
    table.add_row("clairvoyant bound", f"{best.by_day_4:.1%}", f"{best.days:.1%}", f"{best.false_alarms:.1%}")
    table.add_row("readiness", *(f"{value:.1%}" for value in readiness))
    table.add_row("reference rule", *(f"{value:.1%}" for value in reference))
    Console().print(table)
    days = " ".join(f"{value:.0%}" for value in best.per_day)
    print(f"bound by episode day (1 … {LONGEST}): {days}")
    print(
        f"readiness / bound: flagged by day 4 {readiness[0] / best.by_day_4:.2f}×, "
        f"days alarming {readiness[1] / best.days:.2f}×"
    )
    for name, target, value in (
        ("flagged by day 4", TARGET_BY_DAY_4, best.by_day_4),
        ("days alarming", TARGET_DAYS, best.days),
    ):
        verdict = "within reach of a perfect rule" if value >= target else "above what any rule can reach"
        print(f"target {name} ≥ {target:.0%}: the bound is {value:.1%}, {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
