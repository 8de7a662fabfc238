"""Benchmark: numpy batch readiness vs the pandas reference, on synthetic athletes × days.

    python bench/bench_readiness.py [--athletes 10000 --days 365] [--repeat 3] [--workers N]

Each path runs in its own subprocess (so the peak RSS of one is not inflated by the other),
generating the same seeded data in memory. The parent shows progress, checks that both paths
give the same scores (allclose) and bands (identical), and prints throughput in athlete-days/s,
the ratio, peak memory and PASS/FAIL against the targets:

* numpy path ≥ 2,000,000 athlete-days/s (wall clock, best of ``--repeat``),
* numpy path ≥ 5× the pandas reference,
* numpy path peak memory ≤ 1.5 GB (process peak RSS, inputs included).

Exit status 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

TARGET_THROUGHPUT = 2_000_000.0
TARGET_RATIO = 5.0
TARGET_PEAK_BYTES = 1.5e9
SCORE_ATOL = 1e-6

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------


def synthesize(athletes: int, days: int, seed: int = 0) -> Any:
    """Plausible, seeded athletes × days inputs, built fully vectorised in memory.

    Stable individual baselines with day-to-day noise, 0–2 illness episodes per athlete (HRV
    −30 %, RHR +7 bpm for 3–6 days), missing nights, a few device gaps of 10 days, 5 % SDNN-only
    athletes, 10 % who switch device mid-year (new segment), 40 % who log training load.
    """
    from perfhub.readiness.engine import SeriesBatch

    rng = np.random.default_rng(seed)
    shape = (athletes, days)
    day = np.arange(days)
    b = SeriesBatch.empty(athletes, days, datetime.date(2025, 1, 1))

    sdnn = rng.random(athletes) < 0.05
    b.hrv_is_sdnn[sdnn] = True
    base = rng.normal(4.0, 0.35, (athletes, 1)) + np.where(sdnn, 0.5, 0.0)[:, None]
    sd = rng.uniform(0.05, 0.11, (athletes, 1))
    starts = rng.integers(-10, days, (athletes, 2))
    lengths = rng.integers(3, 7, (athletes, 2))
    ill = (
        (day[None, None, :] >= starts[:, :, None]) & (day[None, None, :] < (starts + lengths)[:, :, None])
    ).any(axis=1)
    b.ln_hrv[:] = base + rng.normal(0.0, 1.0, shape) * sd - 0.36 * ill
    b.resting_hr[:] = np.round(rng.normal(55, 6, (athletes, 1)) + rng.normal(0, 2, shape) + 7 * ill)
    b.sleep_min[:] = np.clip(
        np.round(rng.normal(460, 30, (athletes, 1)) + rng.normal(0, 45, shape)), 150, 720
    )
    b.efficiency_pct[:] = np.clip(np.round(rng.normal(88, 5, shape)), 50, 100)
    b.latency_min[:] = np.round(rng.gamma(2.0, 8.0, shape))
    b.wake_count[:] = rng.poisson(2.0, shape)

    loggers = rng.random(athletes) < 0.4
    load = np.round(rng.gamma(2.0, 35.0, (int(loggers.sum()), days)))
    load[rng.random(load.shape) < 0.2] = np.nan  # rest days
    b.load[loggers] = load

    not_worn = rng.random(shape) < 0.06
    for arr, extra in ((b.ln_hrv, 0.03), (b.resting_hr, 0.02), (b.sleep_min, 0.02)):
        arr[not_worn | (rng.random(shape) < extra)] = np.nan
    gap_athletes = np.flatnonzero(rng.random(athletes) < 0.05)
    gap_start = rng.integers(0, max(1, days - 10), gap_athletes.size)
    gap = (day[None, :] >= gap_start[:, None]) & (day[None, :] < gap_start[:, None] + 10)
    for arr in (b.ln_hrv, b.resting_hr, b.sleep_min):
        rows = arr[gap_athletes]
        rows[gap] = np.nan
        arr[gap_athletes] = rows

    switchers = rng.random(athletes) < 0.10
    switch_day = rng.integers(30, max(31, days), athletes)
    b.segment[:] = (switchers[:, None] & (day[None, :] >= switch_day[:, None])).astype(np.int64)
    b.sleep_need_min[rng.random(athletes) < 0.1] = rng.choice([420.0, 450.0, 510.0, 540.0])
    return b


# --------------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"@progress {message}", file=sys.stderr, flush=True)


def _peak_rss_bytes() -> int:
    # ru_maxrss is KiB on Linux.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def child_numpy(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from perfhub.readiness.engine import compute_batch

    _progress("numpy: generating data")
    batch = synthesize(args.athletes, args.days, args.seed)
    _progress("numpy: warm-up")
    compute_batch(synthesize(64, min(args.days, 120), args.seed + 1), workers=args.workers)
    walls: list[float] = []
    cpus: list[float] = []
    result = None
    for i in range(args.repeat):
        _progress(f"numpy: run {i + 1}/{args.repeat}")
        result = None  # free the previous result before timing the next run
        t0, c0 = time.perf_counter(), time.process_time()
        result = compute_batch(batch, workers=args.workers)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    assert result is not None
    np.save(out / "numpy_score.npy", result.score)
    np.save(out / "numpy_band.npy", result.band)
    rss = _peak_rss_bytes()
    del result
    _progress("numpy: measuring allocation peak (tracemalloc)")
    tracemalloc.start()
    traced = compute_batch(batch, workers=args.workers)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    return {
        "walls": walls,
        "cpus": cpus,
        "peak_rss": rss,
        "traced_peak": traced_peak,
        "input_bytes": int(
            sum(getattr(batch, f).nbytes for f in vars(batch) if hasattr(getattr(batch, f), "nbytes"))
        ),
        "workers": args.workers or os.cpu_count(),
    }


def child_pandas(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from readiness_pandas import batch_to_frame, compute_readiness

    _progress("pandas: generating data")
    batch = synthesize(args.athletes, args.days, args.seed)
    _progress("pandas: building the long DataFrame")
    t0 = time.perf_counter()
    frame = batch_to_frame(batch)
    setup = time.perf_counter() - t0
    del batch
    _progress("pandas: computing (groupby.rolling)")
    t0, c0 = time.perf_counter(), time.process_time()
    result = compute_readiness(frame)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    shape = (args.athletes, args.days)
    np.save(out / "pandas_score.npy", result["score"].to_numpy(dtype=np.float64).reshape(shape))
    np.save(out / "pandas_band.npy", result["band"].to_numpy(dtype=np.int8).reshape(shape))
    return {"walls": [wall], "cpus": [cpu], "setup": setup, "peak_rss": _peak_rss_bytes()}


# --------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------


def run_child(kind: str, args: argparse.Namespace, out: Path, progress: Any, task: Any) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--out",
        str(out),
        "--athletes",
        str(args.athletes),
        "--days",
        str(args.days),
        "--repeat",
        str(args.repeat),
        "--seed",
        str(args.seed),
    ]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdout is not None
    errors: list[str] = []
    for line in proc.stderr:
        if line.startswith("@progress "):
            progress.update(task, description=line.removeprefix("@progress ").strip())
        else:
            errors.append(line)
    stdout = proc.stdout.read()
    if proc.wait() != 0:
        raise SystemExit(f"{kind} child failed:\n{''.join(errors)}")
    progress.update(task, description=f"{kind}: done", completed=1)
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--athletes", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the numpy path (best counts)")
    parser.add_argument("--workers", type=int, default=0, help="numpy threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=("numpy", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workers = args.workers or None

    if args.child:
        out = args.out
        report = child_numpy(args, out) if args.child == "numpy" else child_pandas(args, out)
        print(json.dumps(report))
        return 0

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    # Piped output would otherwise wrap the table at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 140)
    cells = args.athletes * args.days
    console.print(
        f"readiness benchmark: {args.athletes:,} athletes × {args.days} days = {cells:,} athlete-days, "
        f"{os.cpu_count()} CPU(s)"
    )
    with tempfile.TemporaryDirectory(prefix="perfhub-bench-") as tmp:
        out = Path(tmp)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            t_np = progress.add_task("numpy: starting", total=1)
            res_np = run_child("numpy", args, out, progress, t_np)
            t_pd = progress.add_task("pandas: starting", total=1)
            res_pd = run_child("pandas", args, out, progress, t_pd)
            t_cmp = progress.add_task("comparing results", total=1)
            s_np, s_pd = np.load(out / "numpy_score.npy"), np.load(out / "pandas_score.npy")
            b_np, b_pd = np.load(out / "numpy_band.npy"), np.load(out / "pandas_band.npy")
            progress.update(t_cmp, completed=1)

    same_nan = bool(np.array_equal(np.isnan(s_np), np.isnan(s_pd)))
    close = same_nan and bool(np.allclose(s_np, s_pd, atol=SCORE_ATOL, rtol=0.0, equal_nan=True))
    max_diff = (
        float(np.nanmax(np.abs(s_np - s_pd))) if same_nan and not np.isnan(s_np).all() else float("nan")
    )
    band_mismatch = int(np.count_nonzero(b_np != b_pd))
    scored = int(np.count_nonzero(~np.isnan(s_np)))

    best_np, best_pd = min(res_np["walls"]), min(res_pd["walls"])
    tp_np, tp_pd = cells / best_np, cells / best_pd
    ratio = tp_np / tp_pd
    cpu_np = min(res_np["cpus"])

    table = Table(title="readiness: numpy batch vs pandas reference")
    for col in ("path", "wall (best)", "athlete-days/s", "CPU s", "peak RSS", "notes"):
        table.add_column(col)
    table.add_row(
        "numpy",
        f"{best_np:.3f} s",
        f"{tp_np:,.0f}",
        f"{cpu_np:.2f}",
        _gb(res_np["peak_rss"]),
        f"{res_np['workers']} threads; runs {', '.join(f'{w:.2f}' for w in res_np['walls'])} s; "
        f"compute alloc peak {_gb(res_np['traced_peak'])}, inputs {_gb(res_np['input_bytes'])}",
    )
    table.add_row(
        "pandas",
        f"{best_pd:.3f} s",
        f"{tp_pd:,.0f}",
        f"{min(res_pd['cpus']):.2f}",
        _gb(res_pd["peak_rss"]),
        f"DataFrame build {res_pd['setup']:.2f} s (not timed)",
    )
    console.print(table)
    console.print(
        f"scored athlete-days: {scored:,} of {cells:,}; max |score diff| {max_diff:.2e}; "
        f"band mismatches: {band_mismatch}"
    )
    console.print(f"numpy / pandas throughput ratio: {ratio:.1f}×")

    checks = [
        ("scores agree (allclose) and bands identical", close and band_mismatch == 0),
        (
            f"numpy ≥ {TARGET_THROUGHPUT:,.0f} athlete-days/s (measured {tp_np:,.0f})",
            tp_np >= TARGET_THROUGHPUT,
        ),
        (f"numpy ≥ {TARGET_RATIO:.0f}× pandas (measured {ratio:.1f}×)", ratio >= TARGET_RATIO),
        (
            f"numpy peak memory ≤ {_gb(TARGET_PEAK_BYTES)} (measured {_gb(res_np['peak_rss'])})",
            res_np["peak_rss"] <= TARGET_PEAK_BYTES,
        ),
    ]
    for label, ok in checks:
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
