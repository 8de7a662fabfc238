"""The sleep page: last night's figures and the 14-night sleep-debt trend, in the athlete's calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from perfhub.auth.models import User
from perfhub.core.dates import local_today
from perfhub.core.deps import UowDep
from perfhub.privacy.deps import ReadRequest
from perfhub.privacy.disclosure import SLEEP_DAY, SLEEP_DEBT_DAY
from perfhub.privacy.policy import disclose_rows
from perfhub.readiness.engine.sleep_debt import (
    DEBT_MIN_NIGHTS,
    DEBT_WINDOW,
    LOW_BELOW_H,
    MODERATE_UP_TO_H,
    NEED_MIN_NIGHTS,
    NEED_WINDOW,
    NONE_BELOW_H,
    SURPLUS_CAP_MIN,
)
from perfhub.readiness.service import sleep_debt_days
from perfhub.readiness.sleep_need import SleepNeed, sleep_need_on
from perfhub.readings.queries import sleep_days
from perfhub.readings.schemas import SleepDayOut
from perfhub.wearables.vendors.registry import DISPLAY_NAMES
from perfhub.web.deps import PageRead
from perfhub.web.routes._charts import (
    Chart,
    ChartSeries,
    hours_minutes,
    hours_minutes_words,
    long_day,
    require_athlete,
    short_day,
)
from perfhub.web.templating import render

router = APIRouter()

SleepPageRead = Annotated[ReadRequest, PageRead(signals={"sleep"})]

# Sources no vendor link feeds (perfhub.readings.schemas.VENDORS), named as the athlete knows them.
SOURCE_NAMES = {**DISPLAY_NAMES, "apple": "Apple Health", "manual": "entered by hand"}


@dataclass(frozen=True)
class DebtMeaning:
    name: str
    means: str
    todo: str


# The categories of perfhub.readiness.engine.sleep_debt, in words.
DEBT_MEANINGS = {
    "none": DebtMeaning(
        "None",
        f"You have slept about as much as you need: less than {NONE_BELOW_H:g} h short over the last "
        "two weeks.",
        "Keep your usual bedtime and wake time.",
    ),
    "low": DebtMeaning(
        "Low",
        f"A small shortfall, under {LOW_BELOW_H:g} h over the last two weeks. It rarely shows in how you "
        "feel or train.",
        "An earlier night or two will clear it; no need to change training.",
    ),
    "moderate": DebtMeaning(
        "Moderate",
        f"{LOW_BELOW_H:g} to {MODERATE_UP_TO_H:g} h short over the last two weeks, the recent nights "
        "counting most. That is enough to blunt recovery, mood and reaction time.",
        "Go to bed 30 to 60 minutes earlier for the next few nights, keep your wake time steady, and "
        "keep caffeine to the morning.",
    ),
    "high": DebtMeaning(
        "High",
        f"More than {MODERATE_UP_TO_H:g} h short over the last two weeks. Recovery and performance "
        "are likely to suffer until it comes down.",
        "Make sleep the priority this week: earlier nights, a nap of under 30 minutes if you can, "
        "and lighter training until the debt is back under 5 h.",
    ),
}


@router.get("/sleep")
def sleep_page(request: Request, uow: UowDep, read: SleepPageRead) -> Response:
    """Last night's sleep and the sleep debt of the 14 nights up to the athlete's local today."""
    now = request.app.state.runtime.clock()
    with uow() as session:
        access = read.authorize(session)
        subject = access.subject
        require_athlete(subject, "sleep")
        today = local_today(subject.tz, now)
        start = today - timedelta(days=DEBT_WINDOW - 1)
        nights = disclose_rows(
            access,
            SLEEP_DAY,
            (
                SleepDayOut.model_validate(row).model_dump()
                for row in sleep_days(session, subject, start, today)
            ),
        )
        debts = disclose_rows(
            access,
            SLEEP_DEBT_DAY,
            (
                {"date": day.date, "debt_hours": day.debt_hours, "category": day.category}
                for day in sleep_debt_days(session, subject, start, today)
            ),
        )
        # The need is a setting of the athlete's, shown to them only (a coach sees the debt).
        need = sleep_need_on(session, subject, today) if access.is_self else None
        context = sleep_context(subject, access.is_self, today, nights, debts, need)
    return render(request, "sleep.html", context, user=read.viewer, title="Sleep")


def sleep_context(
    subject: User,
    is_self: bool,
    today: date,
    nights: list[dict[str, Any]],
    debts: list[dict[str, Any]],
    need: SleepNeed | None = None,
) -> dict[str, Any]:
    days = [today - timedelta(days=back) for back in range(DEBT_WINDOW - 1, -1, -1)]
    night_on = {night["date"]: night for night in nights}
    debt_on = {debt["date"]: debt for debt in debts}
    latest = nights[-1] if nights else None
    current = debt_on.get(today)
    return {
        "is_self": is_self,
        "athlete_name": subject.name or subject.email,
        "today": today,
        "today_long": long_day(today),
        "last_night": None if latest is None else night_figures(latest, today),
        "nights_count": len(nights),
        "nights_needed": max(0, DEBT_MIN_NIGHTS - len(nights)),
        "min_nights": DEBT_MIN_NIGHTS,
        "window": DEBT_WINDOW,
        "debt": None if current is None else debt_figures(current),
        "chart": debt_chart(days, debts),
        "table": [table_row(day, night_on.get(day), debt_on.get(day)) for day in reversed(days)],
        "sleep_need": None if need is None else need_words(need),
        "thresholds": {
            "none": f"{NONE_BELOW_H:g}",
            "low": f"{LOW_BELOW_H:g}",
            "moderate": f"{MODERATE_UP_TO_H:g}",
            "payback": f"{SURPLUS_CAP_MIN / 60:g}",
        },
    }


def need_words(need: SleepNeed) -> str:
    """The need today's debt is counted against, and where it comes from."""
    minutes = hours_minutes_words(need.minutes)
    if need.chosen:
        return f"{minutes}, as you set it on your profile"
    if need.nights_missing:
        return f"{minutes}, the usual figure until {NEED_MIN_NIGHTS} of your nights are recorded"
    return f"{minutes}, estimated from your last {NEED_WINDOW} nights"


def night_figures(night: dict[str, Any], today: date) -> dict[str, Any]:
    """One night as the page shows it; latency and wakes only when the source reported them."""
    day: date = night["date"]
    ago = (today - day).days
    duration = float(night["duration_min"])
    efficiency = night["efficiency_pct"]
    latency = night["latency_min"]
    wakes = night["wake_count"]
    return {
        "date": day,
        "date_long": long_day(day),
        "is_last_night": ago == 0,
        "days_ago": ago,
        "duration": hours_minutes(duration),
        "duration_words": hours_minutes_words(duration),
        "efficiency": None if efficiency is None else f"{efficiency:.0f}%",
        "latency": None if latency is None else f"{latency:.0f} min",
        "wakes": None if wakes is None else f"{wakes} time{'s' if wakes != 1 else ''}",
        "source": SOURCE_NAMES.get(night["vendor"], night["vendor"]),
    }


def debt_figures(debt: dict[str, Any]) -> dict[str, Any]:
    meaning = DEBT_MEANINGS[debt["category"]]
    return {
        "hours": f"{debt['debt_hours']:.1f}",
        "category": debt["category"],
        "name": meaning.name,
        "means": meaning.means,
        "todo": meaning.todo,
    }


def debt_chart(days: list[date], debts: list[dict[str, Any]]) -> Chart | None:
    """Debt hours per day of the window, with the category thresholds; None without any debt."""
    if not debts:
        return None
    hours = {debt["date"]: round(float(debt["debt_hours"]), 2) for debt in debts}
    flat = [[threshold] * len(days) for threshold in (NONE_BELOW_H, LOW_BELOW_H, MODERATE_UP_TO_H)]
    return Chart(
        element_id="sleep-debt",
        label=f"Bar chart of sleep debt in hours for the {len(days)} days from {short_day(days[0])} "
        f"to {short_day(days[-1])}, with the low, moderate and high thresholds marked",
        summary=debt_summary(debts),
        days=days,
        y_label="Sleep debt (h)",
        unit="h",
        decimals=1,
        series=[
            ChartSeries("Sleep debt", [hours.get(day) for day in days], "bars", "primary"),
            ChartSeries(f"Low from {NONE_BELOW_H:g} h", flat[0], "threshold", "low"),
            ChartSeries(f"Moderate from {LOW_BELOW_H:g} h", flat[1], "threshold", "moderate"),
            ChartSeries(f"High above {MODERATE_UP_TO_H:g} h", flat[2], "threshold", "high"),
        ],
        counted=0,
        y_floor=0.0,
        y_ceiling=MODERATE_UP_TO_H + 1,
    )


def debt_summary(debts: list[dict[str, Any]]) -> str:
    """The chart in one sentence: where the debt started and ended, and its category now."""
    first, last = debts[0], debts[-1]
    start_h, end_h = float(first["debt_hours"]), float(last["debt_hours"])
    category = last["category"]
    if len(debts) == 1:
        return f"Sleep debt was {end_h:.1f} h on {short_day(last['date'])}: {category}."
    if len(debts) == DEBT_WINDOW:
        span = f"over {DEBT_WINDOW} nights"
    else:
        span = (
            f"over the {len(debts)} days with enough nights to tell "
            f"({short_day(first['date'])} to {short_day(last['date'])})"
        )
    if f"{start_h:.1f}" == f"{end_h:.1f}":
        return f"Sleep debt stayed at {end_h:.1f} h {span}: {category}."
    return f"Sleep debt went from {start_h:.1f} h to {end_h:.1f} h {span}: {category}."


def table_row(day: date, night: dict[str, Any] | None, debt: dict[str, Any] | None) -> dict[str, str]:
    return {
        "day": short_day(day),
        "duration": "—" if night is None else hours_minutes(float(night["duration_min"])),
        "efficiency": "—"
        if night is None or night["efficiency_pct"] is None
        else f"{night['efficiency_pct']:.0f}%",
        "debt": "—" if debt is None else f"{debt['debt_hours']:.1f} h ({debt['category']})",
    }
