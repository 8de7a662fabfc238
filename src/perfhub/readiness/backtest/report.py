"""The backtest's Markdown report: readiness against the reference rule per episode type, the
targets of issue #15 each marked met or not met, and PNG charts when matplotlib is installed
(the score distribution per band, example athletes' timelines, sensitivity against false alarms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from perfhub.readiness.backtest.cohort import LABELS, QUIET, WARMUP_DAYS, Cohort
from perfhub.readiness.backtest.evaluate import HISTORY_NIGHTS, LOW_EPISODES, Curve, Scored, ServedCheck
from perfhub.readiness.engine.rules import ALGORITHM_VERSION

__all__ = ["CHARTS", "TARGETS", "Target", "charts", "examples", "summary", "targets", "write_report"]


class Target(NamedTuple):
    """One #15 target: the figure it reads (``section``/``key`` of a method's figures), the goal
    as shown, and the bound (a floor when ``at_least``, else a ceiling); ``days`` when it is a count
    of days rather than a share."""

    name: str
    section: str
    key: str
    goal: str
    bound: float
    at_least: bool
    days: bool = False


TARGETS: tuple[Target, ...] = (
    Target("illness days alarming", "illness", "daysAlarming", "≥ 90 %", 0.90, True),
    Target("overreaching days alarming", "overreaching", "daysAlarming", "≥ 60 %", 0.60, True),
    Target("overreaching episodes flagged by day 4", "overreaching", "flaggedByDay4", "≥ 80 %", 0.80, True),
    Target("saturation flagged within 3 nights", "saturation", "flaggedWithin3Nights", "≥ 80 %", 0.80, True),
    Target("false alarms on quiet days", "quiet", "falseAlarms", "≤ 5 %", 0.05, False),
    Target("quiet days normal", "quiet", "normal", "≥ 60 %", 0.60, True),
    Target(
        f"days calibrating with ≥ {HISTORY_NIGHTS} nights of HRV", "calibrating", "days", "0", 0, False, True
    ),
)
CHARTS = ("score-distribution.png", "timelines.png", "sensitivity.png")

_BAND_EDGES = (40, 65, 85)
_BAND_COLOURS = ("#c0392b", "#e67e22", "#27ae60", "#2980b9")  # low, reduced, normal, elevated
_KIND_COLOURS = {
    "illness": "#c0392b",
    "overreaching": "#8e44ad",
    "sleep_restriction": "#f1c40f",
    "saturation": "#16a085",
}


def targets(method: dict[str, Any]) -> list[dict[str, Any]]:
    """Each #15 target with the method's figure and whether it is met (None: the method does
    not measure it, or the cohort has nothing to measure it on)."""
    out = []
    for target in TARGETS:
        value = method[target.section].get(target.key)
        met = (
            None
            if value is None
            else bool(value >= target.bound if target.at_least else value <= target.bound)
        )
        out.append({"target": target.name, "goal": target.goal, "value": value, "met": met})
    return out


def summary(cohort: Cohort, seed: int, served: ServedCheck, methods: dict[str, Any]) -> dict[str, Any]:
    """Everything the backtest reports, as printed (JSON) and written: the run, the cohort, the
    served check, the figures of :func:`~.evaluate.evaluate` and each method's targets."""
    return {
        "algorithm": ALGORITHM_VERSION,
        "athletes": len(cohort.athletes),
        "days": cohort.days,
        "seed": seed,
        "cohort": cohort.describe(),
        "served": served.as_json(),
        **methods,
        "targets": {method: targets(methods[method]) for method in ("readiness", "reference")},
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _shown(value: float | None, count: bool) -> str:
    return "–" if value is None else str(value) if count else _pct(value)


def _met(met: bool | None) -> str:
    return "–" if met is None else "met" if met else "not met"


def _label(name: str) -> str:
    return name.replace("_", " ")


def _served_line(served: dict[str, Any]) -> str:
    how = (
        f"{served['athletes']} athletes served alone, as the service serves one athlete, against the "
        "cohort-wide batch: score, band, status and flags of every day"
    )
    if served["identical"]:
        return f"**Served = batch: identical on {served['athleteDays']} athlete-days** ({how})."
    return (
        f"**Served ≠ batch: {served['differingDays']} of {served['athleteDays']} athlete-days differ, on "
        f"{served['differingAthletes']} athletes** ({how}). First: {served['firstDifference']}."
    )


def examples(cohort: Cohort, count: int = 4) -> list[int]:
    """Athletes worth showing: one with a device switch, one with a stray night (when there are),
    the rest those with the most kinds of episode; the same for the same cohort."""
    a = len(cohort.athletes)
    kinds = np.zeros((a, len(LABELS)), dtype=np.bool_)
    kinds[cohort.episode_athlete, cohort.episode_kind] = True
    # Most kinds first, then most episodes; the earlier row on ties.
    episodes = np.bincount(cohort.episode_athlete, minlength=a)
    ranked = [int(row) for row in np.lexsort((np.arange(a), -episodes, -kinds.sum(axis=1)))]
    chosen: list[int] = []
    for days in (cohort.switch_day, cohort.stray_day):
        with_one = [row for row in ranked if days[row] >= 0 and row not in chosen]
        chosen += with_one[:1]
    chosen += [row for row in ranked if row not in chosen][: max(0, count - len(chosen))]
    return sorted(chosen[:count])


def charts(
    cohort: Cohort, scored: Scored, curve: Curve, figures: dict[str, Any], out: Path
) -> list[str] | None:
    """The PNG charts (:data:`CHARTS`) in ``out``; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    _distribution(plt, cohort, scored, out / CHARTS[0])
    _timelines(plt, cohort, scored, out / CHARTS[1])
    _sensitivity(plt, curve, figures["operatingPoints"], out / CHARTS[2])
    return list(CHARTS)


def _distribution(plt: Any, cohort: Cohort, scored: Scored, path: Path) -> None:
    """Displayed scores of the counted days, one panel per label, bars coloured by band."""
    shown = np.floor(scored.result.score[:, WARMUP_DAYS:] + 0.5)
    labels = cohort.labels[:, WARMUP_DAYS:]
    bins = np.arange(0, 102)  # one bar per displayed score (100 included): each in one band
    bands = list(zip((0, *_BAND_EDGES), (*_BAND_EDGES, 101), _BAND_COLOURS, strict=True))
    fig, axes = plt.subplots(len(LABELS), 1, figsize=(8, 10), sharex=True)
    for code, (ax, name) in enumerate(zip(axes, LABELS, strict=True)):
        values = shown[(labels == code) & ~np.isnan(shown)]
        counts, _ = np.histogram(values, bins=bins)
        share = 100 * counts / max(1, int((labels == code).sum()))
        # One filled outline per band rather than a patch per bar: the same picture, far faster.
        for lo, hi, colour in bands:
            ax.stairs(share[lo:hi], bins[lo : hi + 1], fill=True, color=colour)
        for edge in _BAND_EDGES:
            ax.axvline(edge, color="grey", linestyle=":", linewidth=0.8)
        title = "quiet days" if code == QUIET else f"{_label(name)} days"
        ax.set_title(f"{title} ({len(values)} scored)", fontsize=9, loc="left")
        ax.set_ylabel("% of days", fontsize=8)
    axes[-1].set_xlabel("readiness score (bands: low < 40 ≤ reduced < 65 ≤ normal < 85 ≤ elevated)")
    axes[-1].set_xlim(0, 101)
    fig.suptitle("Score distribution per band")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _timelines(plt: Any, cohort: Cohort, scored: Scored, path: Path) -> None:
    """Example athletes: the score and the 7-day ln rMSSD mean, episodes shaded by kind, device
    switches (solid) and stray nights (dashed) marked."""
    rows = examples(cohort)
    fig, axes = plt.subplots(max(1, len(rows)), 1, figsize=(10, 2.6 * max(1, len(rows))), squeeze=False)
    days = np.arange(cohort.days)
    for ax, row in zip(axes[:, 0], rows, strict=False):
        for edge in _BAND_EDGES:
            ax.axhline(edge, color="lightgrey", linewidth=0.8)
        ax.plot(days, scored.result.score[row], color="black", linewidth=1.0)
        ax.set_ylim(0, 100)
        ax.set_ylabel("score", fontsize=8)
        twin = ax.twinx()
        twin.plot(days, scored.result.ln7[row], color="#2980b9", linewidth=1.0)
        twin.set_ylabel("ln rMSSD", fontsize=8, color="#2980b9")
        mine = np.flatnonzero(cohort.episode_athlete == row)
        for first, length, code in zip(
            cohort.episode_start[mine], cohort.episode_days[mine], cohort.episode_kind[mine], strict=True
        ):
            name = LABELS[int(code)]
            ax.axvspan(first - 0.5, first + length - 0.5, color=_KIND_COLOURS[name], alpha=0.3)
        athlete = cohort.athletes[row]
        notes = [cohort.main_vendor[row]]
        if cohort.switch_day[row] >= 0:
            ax.axvline(cohort.switch_day[row], color="grey", linewidth=1.2)
            notes.append(f"→ {cohort.switch_vendor[row]} from day {cohort.switch_day[row]}")
        if cohort.stray_day[row] >= 0:
            ax.axvline(cohort.stray_day[row], color="grey", linestyle="--", linewidth=1.0)
            notes.append(f"one {cohort.stray_vendor[row]} night on day {cohort.stray_day[row]}")
        need = f"need {athlete.sleep_need_min:.0f} min" if athlete.sleep_need_min > 0 else "need unset"
        ax.set_title(f"athlete {athlete.user_id}: {', '.join(notes)}; {need}", fontsize=9, loc="left")
        ax.set_xlim(0, cohort.days - 1)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color="black", label="readiness"),
        Line2D([], [], color="#2980b9", label="7-day ln rMSSD"),
        Line2D([], [], color="grey", label="device switch"),
        Line2D([], [], color="grey", linestyle="--", label="stray night"),
        *(Patch(color=colour, alpha=0.3, label=_label(name)) for name, colour in _KIND_COLOURS.items()),
    ]
    axes[-1, 0].set_xlabel("day")
    fig.legend(handles=handles, loc="lower center", ncol=8, fontsize=8)
    fig.suptitle("Example athletes: readiness and 7-day ln rMSSD, episodes shaded")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _sensitivity(plt: Any, curve: Curve, points: dict[str, Any], path: Path) -> None:
    """Episode days caught against quiet days alarming as the score threshold moves."""
    fig, ax = plt.subplots(figsize=(7, 5.5))
    fa = 100 * curve.false_alarms
    ax.plot(fa, 100 * curve.caught_all, color="black", linewidth=1.8, label="readiness: score < t")
    for code in LOW_EPISODES:
        name = LABELS[code]
        caught = 100 * curve.caught[name]
        ax.plot(fa, caught, color=_KIND_COLOURS[name], linewidth=0.9, alpha=0.8, label=_label(name))
    for t in (40, 65, 75, 85):
        x, y = fa[t], 100 * curve.caught_all[t]
        # Labels near the right edge go to the left of their point, to stay inside the chart.
        shift = (-30, -10) if x > 85 else (5, -10)
        ax.annotate(f"t={t}", (x, y), textcoords="offset points", xytext=shift, fontsize=7)
    ax.axvline(5, color="grey", linestyle=":", linewidth=0.8, label="5 % false alarms")
    # Hollow, largest first: the points may coincide (an alarm flag adds nothing on a low day).
    for key, marker, size, label in (
        ("readinessBelow65", "o", 13, "readiness below 65 (band edge)"),
        ("readiness", "s", 8, "readiness as it alarms (bands, flags)"),
        ("reference", "^", 10, "reference rule"),
    ):
        point = points[key]
        if point["caught"] is not None and point["falseAlarms"] is not None:
            x, y = 100 * point["falseAlarms"], 100 * point["caught"]
            ax.plot(x, y, marker, markersize=size, fillstyle="none", markeredgewidth=2, label=label)
    ax.set_xlabel("quiet days alarming (%)")
    ax.set_ylabel("illness, overreaching and sleep-restriction days caught (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_title("Sensitivity against false alarms")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(
    figures: dict[str, Any], cohort: Cohort, scored: Scored, curve: Curve, out: Path
) -> tuple[Path, list[str] | None]:
    """``report.md`` and the charts in ``out``, created if needed; returns the report's path and
    the charts written (None without matplotlib)."""
    out.mkdir(parents=True, exist_ok=True)
    ready, ref = figures["readiness"], figures["reference"]
    about, served = figures["cohort"], figures["served"]
    vendors = ", ".join(f"{vendor} {n}" for vendor, n in about["mainVendors"].items())
    lines = [
        f"# Readiness backtest (algorithm {figures['algorithm']})",
        "",
        f"Synthetic cohort: {figures['athletes']} athletes × {figures['days']} days, seed {figures['seed']}; "
        f"main devices {vendors}; {about['deviceSwitches']} switch device for good, "
        f"{about['strayNights']} wear another device for one night; {about['sleepNeedSet']} set a "
        f"sleep need; {_pct(about['missingNights'])} of nights missing. Readiness is computed by the "
        "service's path (readings → `build_batch` → `compute_batch`); the reference rule reads the same "
        "batch.",
        "",
        _served_line(served),
        "",
        "Days before the 60-day warm-up are not counted. A day *alarms* when readiness is low or "
        "reduced or carries the `illness` or `overreaching` flag, or when the reference rule fires "
        "(7-day ln rMSSD mean below the 60-day mean − 0.5 SD, or the night below the 60-day mean − 1 SD "
        "with resting HR ≥ 5 bpm over its 60-day mean). Saturation also counts as flagged on a day "
        "readiness marks `hrv_unusually_high`.",
        "",
        "| Episode type | Episodes | Days | Days alarming (readiness / reference) "
        "| Flagged by day 4 (readiness / reference) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label in LABELS[1:]:
        r, f = ready[label], ref[label]
        lines.append(
            f"| {_label(label)} | {r['episodes']} | {r['days']} "
            f"| {_pct(r['daysAlarming'])} / {_pct(f['daysAlarming'])} "
            f"| {_pct(r['flaggedByDay4'])} / {_pct(f['flaggedByDay4'])} |"
        )
    sat_r, sat_f = ready["saturation"], ref["saturation"]
    quiet_r, quiet_f = ready["quiet"], ref["quiet"]
    points = figures["operatingPoints"]
    lines += [
        "",
        f"Saturation flagged within 3 nights: readiness {_pct(sat_r['flaggedWithin3Nights'])}, "
        f"reference {_pct(sat_f['flaggedWithin3Nights'])}.",
        "",
        f"Quiet days ({quiet_r['days']}): false alarms readiness {_pct(quiet_r['falseAlarms'])}, "
        f"reference {_pct(quiet_f['falseAlarms'])}; normal readiness {_pct(quiet_r['normal'])}, "
        f"reference (not firing) {_pct(quiet_f['normal'])}. Readiness marks "
        f"`hrv_unusually_high` on {_pct(quiet_r['unusuallyHigh'])} of quiet days; "
        f"{_pct(quiet_r['sleepDebtAthletes'])} of athletes carry `sleep_debt` (moderate or more) "
        "on most of their quiet days.",
        "",
        f"Days answered calibrating to an athlete with ≥ {HISTORY_NIGHTS} nights of HRV: "
        f"{ready['calibrating']['days']} (on {ready['calibrating']['athletes']} athletes).",
        "",
        "Operating points (illness, overreaching and sleep-restriction days caught / quiet days "
        f"alarming): readiness below 65 {_pct(points['readinessBelow65']['caught'])} / "
        f"{_pct(points['readinessBelow65']['falseAlarms'])}; readiness as it alarms "
        f"{_pct(points['readiness']['caught'])} / {_pct(points['readiness']['falseAlarms'])}; "
        f"reference {_pct(points['reference']['caught'])} / {_pct(points['reference']['falseAlarms'])}.",
        "",
        "## Targets (#15)",
        "",
        "| Target | Goal | Readiness | | Reference | |",
        "|---|---|---:|---|---:|---|",
    ]
    for target, mine, theirs in zip(
        TARGETS, figures["targets"]["readiness"], figures["targets"]["reference"], strict=True
    ):
        lines.append(
            f"| {mine['target']} | {mine['goal']} | {_shown(mine['value'], target.days)} "
            f"| {_met(mine['met'])} | {_shown(theirs['value'], target.days)} | {_met(theirs['met'])} |"
        )
    written = charts(cohort, scored, curve, figures, out)
    lines += ["", "## Charts", ""]
    if written is None:
        lines.append("No charts: matplotlib is not installed (`pip install matplotlib`).")
    else:
        lines += [f"![{name[:-4].replace('-', ' ')}]({name})" for name in written]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, written
