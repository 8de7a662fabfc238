"""What the plan pages show, made from the plan API's answers: words for types, fields and
moments, a session's view with its adjustment and history, the load chart. No routes here
(``plan.py`` has them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.plans.presenter import sessions_between, sessions_out
from perfhub.plans.rationale import intensity_words
from perfhub.plans.schemas import AdjustmentOut, SessionOut
from perfhub.privacy.policy import Access
from perfhub.training.load import ACUTE_DAYS, CTL_DAYS, LOAD_MIN_HISTORY_DAYS, load_series
from perfhub.training.models import CompletedSession
from perfhub.training.queries import completed_between, daily_loads
from perfhub.training.schemas import MAX_DURATION_MIN, CompletionOut
from perfhub.wearables.vendors.registry import DISPLAY_NAMES
from perfhub.web.routes._charts import Chart, ChartSeries, long_day, short_day

# The plan page's window: two weeks either side of today, and the load chart's 90 days.
BACK_DAYS = AHEAD_DAYS = 14
LOAD_DAYS = 90

# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------

TYPE_WORDS = {"easy": "Easy", "moderate": "Moderate", "hard": "Hard", "rest": "Rest"}
FIELD_WORDS = {
    "type": "Type",
    "durationMin": "Duration",
    "intensity": "Intensity",
    "plannedLoad": "Planned load",
}
STATUS_WORDS = {"proposed": "Proposed", "accepted": "Accepted", "reverted": "Reverted"}
DECISION_WORDS = {"accepted": "Accepted", "reverted": "Reverted"}
# Where a completion came from, as the athlete knows it.
SOURCE_WORDS = {**DISPLAY_NAMES, "apple": "Apple Health", "manual": "entered by hand"}


def duration_words(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole} min"


def number_words(value: float) -> str:
    return f"{value:g}" if not float(value).is_integer() else f"{int(value)}"


def field_value(name: str, value: Any) -> str:
    """One field of a plan as the page writes it: ``Hard``, ``60 min``, ``zone 4``, ``420``."""
    if value is None:
        return "none"
    if name == "type":
        return TYPE_WORDS.get(str(value), str(value))
    if name == "durationMin":
        return duration_words(float(value))
    if name == "intensity" and isinstance(value, Mapping):
        return intensity_words(value)
    if isinstance(value, int | float):
        return number_words(float(value))
    return str(value)


def day_words(day: date, today: date) -> str:
    """``Today, Tuesday 10 March 2026``; ``Tomorrow, …``; ``Yesterday, …``; else the long day."""
    names = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}
    name = names.get((day - today).days)
    return f"{name}, {long_day(day)}" if name else long_day(day)


def moment_words(moment: datetime, tz: str) -> str:
    """``09:05 on Tuesday 10 March 2026`` in ``tz``."""
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local:%H:%M} on {long_day(local.date())}"


# --------------------------------------------------------------------------------------------
# What the pages show
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    field: str
    planned: str
    adjusted: str


@dataclass(frozen=True)
class HistoryLine:
    text: str
    at_iso: str
    at_words: str


@dataclass(frozen=True)
class AdjustmentView:
    status: str
    status_word: str
    status_meaning: str
    rows: list[DiffRow]
    rationale: str
    history: list[HistoryLine]
    can_accept: bool
    can_revert: bool


@dataclass(frozen=True)
class DoneView:
    duration: str
    rpe: str
    load: str
    source: str
    rpe_estimated: bool


@dataclass
class SessionView:
    id: int
    anchor: str
    title: str
    sport: str
    day: date
    day_text: str
    type: str
    type_word: str
    duration: str
    intensity: str
    planned_load: str
    adjustment: AdjustmentView | None
    done: DoneView | None
    can_complete: bool
    form: dict[str, str] = field(default_factory=dict)  # what was typed, after a refused post
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormProblem:
    """A refused form: which one (a session's id, or ``unplanned``), what was typed, and why."""

    target: str
    values: dict[str, str]
    errors: dict[str, str]


def actor_words(
    actor_id: int | None, role: str, viewer: User, subject: User, names: Mapping[int, str]
) -> str:
    if actor_id is not None and actor_id == viewer.id:
        return "you"
    if actor_id is None:
        return f"a former {role}"
    name = names.get(actor_id, f"person {actor_id}")
    if actor_id == subject.id:
        return f"{name} (the athlete)"
    return f"{role} {name}" if role in ("coach", "admin") else name


def status_meaning(status: str) -> str:
    if status == "proposed":
        return "Waiting for a decision. Until someone accepts it, the session stands as planned."
    if status == "accepted":
        return "The adjusted session is the plan."
    return "The session stands as originally planned."


def adjustment_view(
    adjustment: AdjustmentOut, viewer: User, subject: User, names: Mapping[int, str]
) -> AdjustmentView:
    rows = [
        DiffRow(FIELD_WORDS.get(d.field, d.field), field_value(d.field, d.from_), field_value(d.field, d.to))
        for d in adjustment.diff
    ]
    history = [
        HistoryLine(
            f"{DECISION_WORDS[d.decision]} by "
            + actor_words(d.actor_id, d.actor_role, viewer, subject, names),
            d.at.isoformat(),
            moment_words(d.at, viewer.tz),
        )
        for d in adjustment.decisions
    ]
    return AdjustmentView(
        status=adjustment.status,
        status_word=STATUS_WORDS.get(adjustment.status, adjustment.status),
        status_meaning=status_meaning(adjustment.status),
        rows=rows,
        rationale=adjustment.rationale,
        history=history,
        can_accept=adjustment.status != "accepted",
        can_revert=adjustment.status != "reverted",
    )


def done_view(row: CompletedSession | CompletionOut) -> DoneView:
    return DoneView(
        duration=duration_words(float(row.duration_min)),
        rpe=number_words(round(float(row.rpe), 1)),
        load=number_words(round(float(row.load))),
        source=SOURCE_WORDS.get(row.source, row.source),
        rpe_estimated=bool(row.rpe_estimated),
    )


def session_view(
    out: SessionOut, today: date, viewer: User, subject: User, names: Mapping[int, str]
) -> SessionView:
    final = out.final
    load = final.get("plannedLoad")
    return SessionView(
        id=out.id,
        anchor=f"session-{out.id}",
        title=out.title,
        sport=out.sport,
        day=out.date,
        day_text=day_words(out.date, today),
        type=str(final.get("type", out.type)),
        type_word=field_value("type", final.get("type", out.type)),
        duration=field_value("durationMin", final.get("durationMin", out.duration_min)),
        intensity=field_value("intensity", final.get("intensity")),
        planned_load="" if load is None else field_value("plannedLoad", load),
        adjustment=None
        if out.adjustment is None
        else adjustment_view(out.adjustment, viewer, subject, names),
        done=None if out.completed is None else done_view(out.completed),
        can_complete=out.date <= today,
    )


def _names(session: Session, outs: Sequence[SessionOut]) -> dict[int, str]:
    ids = {
        d.actor_id
        for out in outs
        if out.adjustment is not None
        for d in out.adjustment.decisions
        if d.actor_id is not None
    }
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {user_id: name or email for user_id, name, email in rows}


def load_chart(daily: Mapping[date, float], today: date) -> Chart | None:
    """ATL, CTL and TSB over the last 90 days; None when nothing was ever logged by then."""
    start = today - timedelta(days=LOAD_DAYS - 1)
    days = load_series(daily, start, today)
    if all(day.atl is None for day in days):
        return None
    latest = days[-1]
    logged = sum(day.load > 0 for day in days)
    summary = (
        f"Training load from {short_day(start)} to {short_day(today)}: sessions were logged on "
        f"{logged} of these {len(days)} days. Today the acute load (ATL, {ACUTE_DAYS}-day mean) is "
        f"{latest.atl:g} and the chronic load (CTL, {CTL_DAYS}-day mean) is {latest.ctl:g}"
    )
    if latest.tsb is None:
        summary += (
            f"; the balance (TSB) shows from {LOAD_MIN_HISTORY_DAYS} days after the first logged session."
        )
    else:
        feel = (
            "fresher than usual"
            if latest.tsb > 0
            else "more tired than usual"
            if latest.tsb < 0
            else "as usual"
        )
        summary += f"; the balance (TSB, CTL − ATL) is {latest.tsb:+g}: {feel}."
    return DayChart(
        element_id="load-chart",
        label=(
            f"Line chart of acute load (ATL), chronic load (CTL) and training-stress balance (TSB) "
            f"for each day from {short_day(start)} to {short_day(today)}"
        ),
        summary=summary,
        days=[day.date for day in days],
        y_label="Load (RPE × min per day)",
        unit="",
        decimals=0,
        series=[
            ChartSeries("ATL (7-day)", [day.atl for day in days], "line", "high"),
            ChartSeries("CTL (42-day)", [day.ctl for day in days], "line", "primary"),
            ChartSeries("TSB (CTL − ATL)", [day.tsb for day in days], "line", "band"),
        ],
        counted=1,
    )


@dataclass(frozen=True)
class DayChart(Chart):
    """A chart of calendar days that are not nights."""

    x_label: str = "Day"
    x_name: str = "Day"


def plan_context(
    session: Session,
    access: Access,
    today: date,
    *,
    base: str,
    problem: FormProblem | None = None,
) -> dict[str, Any]:
    """Everything both plan pages show of ``access.subject``: sessions two weeks either side of
    today (the later ones first in time, the earlier newest first), what was done without a plan,
    and the load chart."""
    subject, viewer = access.subject, access.viewer
    rows = sessions_between(
        session, subject.id, today - timedelta(days=BACK_DAYS), today + timedelta(days=AHEAD_DAYS)
    )
    outs = sessions_out(session, access, rows)
    names = _names(session, outs)
    views = [session_view(out, today, viewer, subject, names) for out in outs]
    if problem is not None:
        for view in views:
            if str(view.id) == problem.target:
                view.form, view.errors = problem.values, problem.errors
    unplanned = [
        {"day_text": day_words(row.date, today), "sport": row.sport, "done": done_view(row)}
        for row in reversed(completed_between(session, subject.id, today - timedelta(days=BACK_DAYS), today))
        if row.planned_session_id is None
    ]
    daily = daily_loads(session, [subject.id], until=today).get(subject.id, {})
    unplanned_problem = problem if problem is not None and problem.target == "unplanned" else None
    return {
        "is_self": access.is_self,
        "athlete_name": subject.name or subject.email,
        "today": today,
        "today_long": long_day(today),
        "time_zone": subject.tz,
        "base": base,
        "upcoming": [view for view in views if view.day >= today],
        "past": [view for view in reversed(views) if view.day < today],
        "unplanned": unplanned,
        "load_chart": load_chart(daily, today),
        "back_days": BACK_DAYS,
        "ahead_days": AHEAD_DAYS,
        "load_days": LOAD_DAYS,
        "max_minutes": MAX_DURATION_MIN,
        "problem_anchor": None
        if problem is None
        else "log"
        if problem.target == "unplanned"
        else f"session-{problem.target}",
        "log": {
            "values": unplanned_problem.values if unplanned_problem else {"date": today.isoformat()},
            "errors": unplanned_problem.errors if unplanned_problem else {},
        },
    }
