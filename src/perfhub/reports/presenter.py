"""The pilot report as people read it (Markdown) and as spreadsheets take it (CSV).

The CSV is one long table, ``section,item,date,value``: every figure of the report on a row of
its own, the daily ones with their date, so that it loads into any sheet without reshaping.
Dead letters are counted in section ``deadLetters.<consumer>``, one row per kind of failure.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from perfhub.plans.adherence import GROUPS, Figures, Tally
from perfhub.readiness.team_csv import csv_cell
from perfhub.reports.pilot import PilotReport, Target
from perfhub.reports.timing import LAG_LIMIT

CSV_COLUMNS = ("section", "item", "date", "value")
CHART_FILE = "pilot-coverage.svg"
GROUP_LABELS = {
    "accepted": "adjusted, accepted",
    "reverted": "adjusted, reverted",
    "undecided": "adjusted, undecided",
    "unadjusted": "unadjusted",
}


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:+.1f} %" if signed else f"{100 * value:.1f} %"


def _ratio(part: int, whole: int) -> str:
    return f"{part} of {whole} ({_pct(part / whole if whole else None)})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _cell(text: str) -> str:
    """Text inside a Markdown table cell or line: one line, no column breaks."""
    return " ".join(text.split()).replace("|", "\\|")


def _met(target: Target) -> str:
    if target.met is None:
        return "not judged"
    return "**met**" if target.met else "**not met**"


def _tally_row(label: str, tally: Tally) -> str:
    return f"| {label} | {tally.planned} | {tally.kept} | {_pct(tally.rate)} |"


def markdown(report: PilotReport, chart: str | None = None, chart_hint: str = "") -> str:
    """The report in Markdown; ``chart`` is where the chart is (a path or URL to link), else
    ``chart_hint`` says how to get it."""
    scope = f"team {_cell(report.team['name'])} (#{report.team['id']})" if report.team else "all athletes"
    lines = [
        f"# Pilot report, {report.start} – {report.end}",
        "",
        f"{scope}: {report.athletes} athletes · generated {_moment(report.generated_at)}",
        "",
        "## Targets",
        "",
        "| target | goal | value | |",
        "|---|---|---|---|",
    ]
    for target in report.targets:
        value = _pct(target.value, signed=target.code == "adherence")
        note = f" ({_cell(target.note)})" if target.note else ""
        lines.append(f"| {target.label} | {target.goal} | {value} | {_met(target)}{note} |")
    lines += ["", *_coverage(report, chart, chart_hint), "", *_lag(report), "", *_adherence(report)]
    lines += ["", *_links(report), "", *_dead_letters(report)]
    return "\n".join(lines) + "\n"


def _coverage(report: PilotReport, chart: str | None, chart_hint: str) -> list[str]:
    cov = report.coverage
    complete = sum(day.complete for day in report.days)
    lines = [
        "## Daily readiness coverage",
        "",
        f"Over the {complete} days of the period that are over in every time zone: {cov.active} "
        f"active athlete-days (linked, or a night in the last 7 days); covered (a readiness score "
        f"for their local day, on that day's night): {_ratio(cov.covered, cov.active)}; readiness "
        f"available before 07:00 local: {_ratio(cov.before, cov.active)}.",
    ]
    if cov.lowest is not None:
        low = cov.lowest
        lines.append(f"Lowest day: {low.day}, {_ratio(low.covered, low.active)}.")
    lines.append(
        f"Availability timed by the outbox's events for {cov.covered_by['events']} covered days, by the "
        f"snapshot's last computation (a later bound) for {cov.covered_by['computedAt']}."
    )
    lines.append("")
    lines.append(f"![Daily readiness coverage]({chart})" if chart else chart_hint)
    lines += [
        "",
        "| date | active | covered | before 07:00 | HRV nights | within 1 h |",
        "|---|---|---|---|---|---|",
    ]
    for day in report.days:
        mark = "" if day.complete else " (not over everywhere)"
        lines.append(
            f"| {day.day}{mark} | {day.active} | {_ratio(day.covered, day.active)} | "
            f"{_ratio(day.before, day.active)} | {day.nights} | {day.within} |"
        )
    return lines


def _lag(report: PilotReport) -> list[str]:
    lag = report.lag
    p = lag.percentiles
    limit = int(LAG_LIMIT.total_seconds() // 60)
    return [
        "## Ingest lag",
        "",
        f"From the vendor's time for a night's HRV (`captured_at`) to the first readiness stored "
        f"after it: {lag.nights} HRV nights, readiness stored for {lag.stored} "
        f"({lag.nights - lag.stored} awaiting).",
        "",
        "| p50 | p95 | p99 | within 1 h |",
        "|---|---|---|---|",
        f"| {_duration(p[50])} | {_duration(p[95])} | {_duration(p[99])} | "
        f"{_ratio(lag.within, lag.decided)} |",
        "",
        f"Within {limit} minutes counts the nights stored, and those still awaiting past the limit, "
        f"as decided. Timed by the outbox's events for {lag.timed_by['events']} nights, by the "
        f"snapshot's last computation (a later bound) for {lag.timed_by['computedAt']}.",
        *(
            [
                "",
                f"{lag.untimed} HRV nights from vendors that give a date only (Google) are left out: "
                "they carry no capture time to measure from.",
            ]
            if lag.untimed
            else []
        ),
    ]


def _adherence(report: PilotReport) -> list[str]:
    adherence = report.adherence
    lines = [
        "## Plan adherence",
        "",
        "Planned sessions kept as finally decided, dated before each athlete's local today.",
        "",
        "| sessions | planned | kept | rate |",
        "|---|---|---|---|",
        _tally_row("all, this period", adherence.period.total.overall),
    ]
    lines += [_tally_row(GROUP_LABELS[g], adherence.period.total.by_group[g]) for g in GROUPS]
    if adherence.baseline is not None and adherence.baseline_range is not None:
        start, end = adherence.baseline_range
        lines.append(_tally_row(f"all, baseline {start} – {end}", adherence.baseline.total.overall))
    lines += [
        "",
        f"Change over the baseline: {_pct(adherence.gain, signed=True)} (relative). Accepted "
        f"adjustments over reverted: {_pct(adherence.group_gain('accepted', 'reverted'), signed=True)}; "
        f"over unadjusted sessions: {_pct(adherence.group_gain('accepted', 'unadjusted'), signed=True)}.",
    ]
    return lines


def _links(report: PilotReport) -> list[str]:
    oauth = report.oauth
    return [
        "## OAuth links",
        "",
        f"Completed: {oauth.completed} (each connection counts its latest link). Failed: "
        f"{oauth.failed} (refused or left unfinished; attempts are kept 400 days, so failures "
        f"since {_moment(oauth.failures_kept_since)} are all counted).",
    ]


def _dead_letters(report: PilotReport) -> list[str]:
    lines = ["## Dead letters", ""]
    if not report.dead_letters:
        return [*lines, "None in the period."]
    lines += ["| consumer | reason | count | replayed |", "|---|---|---|---|"]
    for group in report.dead_letters:
        consumer, reason = _cell(group.consumer), _cell(group.reason)
        lines.append(f"| {consumer} | {reason} | {group.count} | {group.replayed} |")
    return lines


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _tally_rows(prefix: str, figures: Figures) -> Iterator[tuple[str, str, Any]]:
    for key, tally in (("all", figures.total.overall), *figures.total.by_group.items()):
        yield from ((f"{prefix}.{key}.{name}", "", value) for name, value in tally.out().items())


def _rows(report: PilotReport) -> Iterator[tuple[str, str, str, Any]]:
    for target in report.targets:
        given = target.out()
        yield "target", f"{target.code}.value", "", given["value"]
        yield "target", f"{target.code}.met", "", given["met"]
    for name, value in report.coverage.out().items():
        if not isinstance(value, dict | None):
            yield "coverage", name, "", value
    for day in report.days:
        for name, value in day.out().items():
            if name != "date":
                yield "coverage", name, day.day.isoformat(), value
    for name, value in report.lag.out().items():
        if not isinstance(value, dict):
            yield "lag", name, "", value
    adherence = report.adherence
    for item, date, value in _tally_rows("period", adherence.period):
        yield "adherence", item, date, value
    if adherence.baseline is not None:
        for item, date, value in _tally_rows("baseline", adherence.baseline):
            yield "adherence", item, date, value
    yield "adherence", "gainOverBaseline", "", adherence.gain
    for name, value in report.oauth.out().items():
        yield "oauth", name, "", value
    for group in report.dead_letters:
        yield f"deadLetters.{group.consumer}", group.reason, "", group.count


def csv_text(report: PilotReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _rows(report):
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()
