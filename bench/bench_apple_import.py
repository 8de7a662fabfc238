"""Benchmark: streaming Apple Health import vs ``xml.etree.ElementTree.parse`` on a large export.xml.

    python bench/bench_apple_import.py [--size-mb 300] [--repeat 3] [--seed 1] [--keep]
    python bench/bench_apple_import.py --ios16       # iOS 16's broken DTD + stray control characters
    python bench/bench_apple_import.py --export path/to/export.xml   # a real export instead

Generates a realistic export of about ``--size-mb`` (tests/wearables/apple_export.py: records grouped
by type, the three used types among fifteen others, long device strings, beat-to-beat lists) into a
temporary directory, with a progress bar. Then, each in its own subprocess so that peak RSS is its own:

(a) ours — ``perfhub.wearables.apple.importer.import_days``: parse, map and day aggregation, everything
    but the database write; best and median of ``--repeat`` runs;
(b) ``ElementTree.parse`` of the same file (the whole document in memory), once. Not with ``--ios16``:
    no conforming parser reads that file at all, which is the point of importing it.

Throughput is in ``Record`` elements of the file per second (all of them: each one is read, whether
or not it is one of the three types we keep), wall clock of the call, interpreter start excluded.
Peak RSS is the process's high-water mark (``VmHWM``), interpreter and imports included.

PASS/FAIL against the targets for ours: ≥ 200,000 records/s (median run) and peak RSS ≤ 200 MB.
Exit status 0 when both pass, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

TARGET_RECORDS_PER_S = 200_000.0
TARGET_PEAK_RSS = 200 * 1024 * 1024

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def peak_rss_bytes() -> int:
    # VmHWM is this process's own high-water mark; ru_maxrss (KiB on Linux) is the portable fallback.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


# --------------------------------------------------------------------------------------------
# Workers (run in subprocesses)
# --------------------------------------------------------------------------------------------


def worker_ours(path: Path, repeat: int) -> dict[str, Any]:
    from perfhub.wearables.apple.importer import import_days

    baseline = peak_rss_bytes()
    seconds = []
    summary = None
    for _ in range(repeat):
        started = time.perf_counter()
        hrv, sleep, summary = import_days(path)
        seconds.append(time.perf_counter() - started)
        del hrv, sleep
    assert summary is not None
    return {
        "seconds": seconds,
        "peak_rss": peak_rss_bytes(),
        "baseline_rss": baseline,
        "used_records": summary.records,
        "days": summary.days,
        "skipped": summary.skipped,
    }


def worker_etree(path: Path) -> dict[str, Any]:
    import xml.etree.ElementTree as ET

    baseline = peak_rss_bytes()
    started = time.perf_counter()
    tree = ET.parse(path)
    seconds = time.perf_counter() - started
    records = sum(1 for element in tree.getroot() if element.tag == "Record")
    return {"seconds": [seconds], "peak_rss": peak_rss_bytes(), "baseline_rss": baseline, "records": records}


def run_worker(kind: str, path: Path, repeat: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--repeat",
        str(repeat),
        str(path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------


def generate(path: Path, size_mb: float, seed: int, ios16: bool) -> Any:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    sys.path.insert(0, str(ROOT / "tests" / "wearables"))
    import apple_export

    base = apple_export.ExportSpec(seed=seed)
    if ios16:
        base = replace(base, export_version=12, stray_controls=True)
    spec = apple_export.spec_for_size(int(size_mb * 1e6), base)
    columns = (
        TextColumn("generating {task.fields[name]}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("export", total=int(size_mb * 1e6), name=f"{spec.days} days of export.xml")
        result = apple_export.write_export_xml(
            path, spec, progress=lambda done: progress.update(task, completed=done)
        )
        progress.update(task, total=result.bytes, completed=result.bytes)
    return result


def count_records(path: Path) -> int:
    # A byte count is exact for the Health app's output and independent of both parsers under test.
    # The carried 7 bytes are shorter than the pattern, so no occurrence is counted twice.
    count, tail = 0, b""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            data = tail + chunk
            count += data.count(b"<Record ")
            tail = data[-7:]
    return count


def report(label: str, text: str) -> None:
    print(f"{label:<16}{text}")


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=300.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--export", type=Path, help="benchmark this export.xml instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the generated file (its path is printed)")
    parser.add_argument("--skip-etree", action="store_true", help="do not run the ElementTree baseline")
    parser.add_argument(
        "--ios16",
        action="store_true",
        help="generate an iOS 16 export (broken internal DTD, stray control characters); no baseline",
    )
    parser.add_argument("--worker", choices=["ours", "etree"], help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = worker_ours(args.path, args.repeat) if args.worker == "ours" else worker_etree(args.path)
        print(json.dumps(result))
        return 0

    from rich.console import Console

    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="perfhub-bench-apple-"))
    try:
        expected_days = None
        if args.export:
            path = args.export
        else:
            path = workdir / "export.xml"
            generated = generate(path, args.size_mb, args.seed, args.ios16)
            expected_days = len(generated.expected)
        size = path.stat().st_size
        records = count_records(path)
        if not args.export and records != generated.records:
            raise SystemExit(f"record count mismatch: file {records}, generator {generated.records}")

        with console.status(f"ours: import_days × {args.repeat}"):
            ours = run_worker("ours", path, args.repeat)
        etree = None
        if not (args.skip_etree or args.ios16):
            with console.status("baseline: ElementTree.parse"):
                etree = run_worker("etree", path, 1)
            if etree["records"] != records:
                raise SystemExit(f"ElementTree saw {etree['records']} records, the file has {records}")
    finally:
        if args.keep and not args.export:
            console.print(f"kept {workdir / 'export.xml'}")
        else:
            for leftover in workdir.iterdir():
                leftover.unlink()
            workdir.rmdir()

    median = statistics.median(ours["seconds"])
    best = min(ours["seconds"])
    rate = records / median
    used, days = ours["used_records"], ours["days"]
    runs = ", ".join(f"{s:.2f}" for s in ours["seconds"])
    print()
    report("file", f"{size / 1e6:,.1f} MB, {records:,} Record elements")
    report("", f"{used:,} of the three used types → {days:,} days ({ours['skipped']} skipped)")
    if expected_days is not None and days != expected_days:
        report("", f"WARNING: the generator planned {expected_days:,} days")
    report("ours", f"{median:.2f} s median (runs {runs} s), {size / 1e6 / median:,.0f} MB/s")
    report("", f"{rate:,.0f} records/s median, {records / best:,.0f} best")
    report("", f"peak RSS {mb(ours['peak_rss'])} (interpreter and imports alone {mb(ours['baseline_rss'])})")
    if etree is not None:
        et_seconds = etree["seconds"][0]
        report("ElementTree", f"{et_seconds:.2f} s, {records / et_seconds:,.0f} records/s (parse only)")
        report("", f"peak RSS {mb(etree['peak_rss'])}")
        times = et_seconds / median
        less = etree["peak_rss"] / ours["peak_rss"]
        report("ratio", f"ours is {times:.1f}× faster and peaks at 1/{less:.0f} of the memory")
    speed_ok = rate >= TARGET_RECORDS_PER_S
    memory_ok = ours["peak_rss"] <= TARGET_PEAK_RSS
    print()
    print(f"{'PASS' if speed_ok else 'FAIL'}  throughput {rate:,.0f} ≥ {TARGET_RECORDS_PER_S:,.0f} records/s")
    print(f"{'PASS' if memory_ok else 'FAIL'}  peak RSS {mb(ours['peak_rss'])} ≤ {mb(TARGET_PEAK_RSS)}")
    return 0 if speed_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
