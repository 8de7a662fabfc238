"""The pilot report's chart, drawn as SVG by hand: it needs nothing the installed package does
not have (matplotlib is only a development tool here), and any browser or Markdown viewer shows it.

One panel, 0–100 % by day: the share of active athletes covered (light bars), the share with
readiness before 07:00 local (dark bars inside them), the share of the day's HRV nights stored
within an hour (orange points), and the 85 % goal (dashed). Days not yet over everywhere are faint.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from perfhub.reports.pilot import COVERAGE_GOAL, PilotReport
from perfhub.reports.timing import DayFigures

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 40, 64
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
COVERED, BEFORE, WITHIN, GOAL, INK = "#9ecae1", "#3182bd", "#e6550d", "#31a354", "#444444"
FONT = 'font-family="sans-serif" font-size="11"'


def _y(ratio: float) -> float:
    return round(TOP + PLOT_H * (1 - ratio), 1)


def _pct(part: int, whole: int) -> str:
    return "–" if whole == 0 else f"{100 * part / whole:.0f} %"


def _bar(x: float, width: float, ratio: float, colour: str, opacity: float) -> str:
    top = _y(ratio)
    height = round(TOP + PLOT_H - top, 1)
    return (
        f'<rect x="{x:.1f}" y="{top}" width="{width:.1f}" height="{height}" fill="{colour}"'
        f' fill-opacity="{opacity}"/>'
    )


def _day(index: int, day: DayFigures, slot: float) -> list[str]:
    x = LEFT + index * slot + slot * 0.1
    width = max(1.0, slot * 0.8)
    opacity = 1.0 if day.complete else 0.4
    tip = (
        f"{day.day}: {day.covered} of {day.active} covered ({_pct(day.covered, day.active)}), "
        f"{day.before} before 07:00 ({_pct(day.before, day.active)}); HRV nights within 1 h: "
        f"{day.within} of {day.nights}" + ("" if day.complete else " (day not over everywhere)")
    )
    parts = [f"<g><title>{escape(tip)}</title>"]
    if day.active:
        parts.append(_bar(x, width, day.covered / day.active, COVERED, opacity))
        parts.append(_bar(x, width, day.before / day.active, BEFORE, opacity))
    else:
        parts.append(f'<rect x="{x:.1f}" y="{TOP}" width="{width:.1f}" height="{PLOT_H}" fill-opacity="0"/>')
    parts.append("</g>")
    return parts


def _within_points(days: list[DayFigures], slot: float) -> list[str]:
    points = [
        (LEFT + i * slot + slot / 2, _y(day.within / day.nights)) for i, day in enumerate(days) if day.nights
    ]
    if not points:
        return []
    path = " ".join(f"{x:.1f},{y}" for x, y in points)
    marks = [f'<circle cx="{x:.1f}" cy="{y}" r="2.5" fill="{WITHIN}"/>' for x, y in points]
    return [f'<polyline points="{path}" fill="none" stroke="{WITHIN}" stroke-width="1"/>', *marks]


def _legend() -> list[str]:
    y = HEIGHT - 18
    entries = [
        (COVERED, "covered"),
        (BEFORE, "before 07:00 local"),
        (WITHIN, "HRV nights stored within 1 h"),
    ]
    parts, x = [], LEFT
    for colour, label in entries:
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" {FONT} fill="{INK}">{escape(label)}</text>')
        x += 14 + 6 * len(label) + 24
    parts.append(
        f'<line x1="{x}" y1="{y - 4}" x2="{x + 16}" y2="{y - 4}" stroke="{GOAL}" stroke-dasharray="4 3"/>'
    )
    parts.append(f'<text x="{x + 20}" y="{y}" {FONT} fill="{INK}">goal 85 %</text>')
    return parts


def coverage_svg(report: PilotReport) -> str:
    days = report.days
    slot = PLOT_W / max(1, len(days))
    scope = f" — {report.team['name']}" if report.team else ""
    title = f"Readiness coverage by day, {report.start} – {report.end}{scope}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="20" {FONT.replace("11", "13")} fill="{INK}">{escape(title)}</text>',
    ]
    for tick in (0, 25, 50, 75, 100):
        y = _y(tick / 100)
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" y2="{y}" stroke="#dddddd"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" {FONT} fill="{INK}">{tick} %</text>'
        )
    for index, day in enumerate(days):
        parts += _day(index, day, slot)
    parts += _within_points(days, slot)
    goal = _y(COVERAGE_GOAL)
    parts.append(
        f'<line x1="{LEFT}" y1="{goal}" x2="{LEFT + PLOT_W}" y2="{goal}" stroke="{GOAL}" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    axis = TOP + PLOT_H
    parts.append(f'<line x1="{LEFT}" y1="{axis}" x2="{LEFT + PLOT_W}" y2="{axis}" stroke="{INK}"/>')
    # The first and the last day under the axis, each anchored inside the plot.
    for index, anchor in sorted({0: "start", len(days) - 1: "end"}.items()) if days else []:
        x = LEFT + index * slot + slot / 2
        parts.append(
            f'<text x="{x:.1f}" y="{axis + 16}" text-anchor="{anchor}" {FONT} fill="{INK}">'
            f"{days[index].day.isoformat()}</text>"
        )
    parts += _legend()
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
