"""The backtest's Markdown report: readiness against the reference rule per episode type, the
targets of issue #15 each marked met or not met, and PNG charts when matplotlib is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfhub.readiness.backtest.cohort import LABELS

__all__ = ["TARGETS", "charts", "targets", "write_report"]

# (label, what is measured, the key in the figures, the least share that meets it, or the most
# when the target is a ceiling).
TARGETS: tuple[tuple[str, str, str, str, float, bool], ...] = (
    ("illness days low/reduced", "illness", "daysAlarming", "≥ 90 %", 0.90, True),
    ("overreaching days low/reduced", "overreaching", "daysAlarming", "≥ 60 %", 0.60, True),
    ("overreaching episodes flagged by day 4", "overreaching", "flaggedByDay4", "≥ 80 %", 0.80, True),
    ("saturation flagged within 3 nights", "saturation", "flaggedWithin3Nights", "≥ 80 %", 0.80, True),
    ("false alarms on quiet days", "quiet", "falseAlarms", "≤ 5 %", 0.05, False),
    ("quiet days normal", "quiet", "normal", "≥ 60 %", 0.60, True),
)


def targets(method: dict[str, Any]) -> list[dict[str, Any]]:
    """Each #15 target with the method's figure and whether it is met."""
    out = []
    for name, label, key, shown, bound, at_least in TARGETS:
        value = method[label].get(key)
        met = value is not None and (value >= bound if at_least else value <= bound)
        out.append({"target": name, "goal": shown, "value": value, "met": bool(met)})
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def charts(figures: dict[str, Any], out: Path) -> list[str] | None:
    """PNG bar charts of the two methods side by side; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    episodes = [label for label in LABELS if label != "quiet"]
    written = []
    for key, title, name in (
        ("daysAlarming", "Episode days in the low/reduced band", "days-alarming.png"),
        ("flaggedByDay4", "Episodes flagged by day 4", "flagged-by-day-4.png"),
    ):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        x = range(len(episodes))
        for shift, method in ((-0.2, "readiness"), (0.2, "reference")):
            values = [100 * (figures[method][label].get(key) or 0.0) for label in episodes]
            ax.bar([i + shift for i in x], values, width=0.4, label=method)
        ax.set_xticks(list(x), [label.replace("_", " ") for label in episodes])
        ax.set_ylabel("%")
        ax.set_ylim(0, 100)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(name)
    return written


def write_report(figures: dict[str, Any], out: Path) -> Path:
    """``report.md`` (and the charts) in ``out``, created if needed; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    ready, ref = figures["readiness"], figures["reference"]
    lines = [
        f"# Readiness backtest (algorithm {figures['algorithm']})",
        "",
        f"Synthetic cohort: {figures['athletes']} athletes × {figures['days']} days, seed {figures['seed']}. "
        "Days before the 60-day warm-up are not counted. A day *alarms* when readiness is low or "
        "reduced, or when the reference rule fires (7-day ln rMSSD mean below the 60-day mean − 0.5 SD, "
        "or the night below the 60-day mean − 1 SD with resting HR ≥ 5 bpm over its 60-day mean). "
        "Saturation also counts as flagged on a day readiness marks `hrv_unusually_high`.",
        "",
        "| Episode type | Episodes | Days | Days alarming (readiness / reference) "
        "| Flagged by day 4 (readiness / reference) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label in LABELS[1:]:
        r, f = ready[label], ref[label]
        lines.append(
            f"| {label.replace('_', ' ')} | {r['episodes']} | {r['days']} "
            f"| {_pct(r['daysAlarming'])} / {_pct(f['daysAlarming'])} "
            f"| {_pct(r['flaggedByDay4'])} / {_pct(f['flaggedByDay4'])} |"
        )
    sat_r, sat_f = ready["saturation"], ref["saturation"]
    quiet_r, quiet_f = ready["quiet"], ref["quiet"]
    lines += [
        "",
        f"Saturation flagged within 3 nights: readiness {_pct(sat_r['flaggedWithin3Nights'])}, "
        f"reference {_pct(sat_f['flaggedWithin3Nights'])}.",
        "",
        f"Quiet days ({quiet_r['days']}): false alarms readiness {_pct(quiet_r['falseAlarms'])}, "
        f"reference {_pct(quiet_f['falseAlarms'])}; normal readiness {_pct(quiet_r['normal'])}, "
        f"reference (not firing) {_pct(quiet_f['normal'])}.",
        "",
        "## Targets (#15)",
        "",
        "| Target | Goal | Readiness | | Reference | |",
        "|---|---|---:|---|---:|---|",
    ]
    for mine, theirs in zip(figures["targets"]["readiness"], figures["targets"]["reference"], strict=True):
        lines.append(
            f"| {mine['target']} | {mine['goal']} | {_pct(mine['value'])} "
            f"| {'met' if mine['met'] else 'not met'} | {_pct(theirs['value'])} "
            f"| {'met' if theirs['met'] else 'not met'} |"
        )
    written = charts(figures, out)
    lines += ["", "## Charts", ""]
    if written is None:
        lines.append("No charts: matplotlib is not installed (`pip install matplotlib`).")
    else:
        lines += [f"![{name[:-4].replace('-', ' ')}]({name})" for name in written]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
