"""The today page: the athlete's readiness for their local today, or why there is none yet.

It reads exactly what ``GET /api/v1/readiness/today`` answers the same person
(:func:`perfhub.readiness.presenter.today_readiness`) and puts it in words: a gauge drawn here
as inline SVG, the drivers, the contributors, the flags and what the status and staleness mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from perfhub.auth.models import User
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden
from perfhub.privacy.deps import ReadRequest
from perfhub.readiness.engine import band_for
from perfhub.readiness.engine.rules import (
    FULL_HRV_DAYS,
    MIN_HRV_DAYS,
    NO_RECENT_AFTER_DAYS,
    PROVISIONAL_HRV_DAYS,
    STALE_AFTER_DAYS,
)
from perfhub.readiness.presenter import (
    NoScoreDetail,
    TodayReadiness,
    no_score_detail,
    today_readiness,
    visible_flags,
)
from perfhub.readiness.schemas import ReadinessOut
from perfhub.web.deps import PageRead
from perfhub.web.templating import render

router = APIRouter()

TodayRead = Annotated[ReadRequest, PageRead(signals={"readiness"})]


@router.get("/today")
def today_page(request: Request, uow: UowDep, read: TodayRead) -> Response:
    """The viewer's own readiness today; ``?userId=`` opens an athlete who shares readiness."""
    with uow() as session:
        access = read.authorize(session)
        subject = access.subject
        if subject.role != "athlete":
            raise Forbidden(
                "The today page shows an athlete's readiness. "
                "Open it for one of your athletes from their team page."
            )
        today = today_readiness(session, access)
        detail = (
            NoScoreDetail()
            if today.readiness is not None
            else no_score_detail(session, access, today.date, today.reason)
        )
        context = today_context(subject, access.is_self, today, detail)
    return render(request, "today.html", context, user=read.viewer, title="Today")


def today_context(
    subject: User, is_self: bool, today: TodayReadiness, detail: NoScoreDetail
) -> dict[str, Any]:
    name = subject.name or subject.email
    context: dict[str, Any] = {
        "is_self": is_self,
        "athlete_name": name,
        "day_text": long_day(today.date),
        "readiness": None,
        "missing": None,
    }
    if today.readiness is not None:
        context["readiness"] = scored_view(today.readiness, subject.tz, is_self)
    else:
        context["missing"] = missing_view(today.reason, detail, is_self, name)
    return context


def long_day(day: date) -> str:
    """``Tuesday 11 March 2026``."""
    return f"{day:%A} {day.day} {day:%B %Y}"


# --------------------------------------------------------------------------------------------
# A score
# --------------------------------------------------------------------------------------------

BAND_WORDS = {
    "low": ("Low", "0–39", "strain is showing; keep today easy or rest."),
    "reduced": ("Reduced", "40–64", "below your usual; a lighter session suits today."),
    "normal": ("Normal", "65–84", "within your usual range; train as planned."),
    "elevated": ("Elevated", "85–100", "better recovered than usual; a good day for a hard session."),
}

COMPONENT_NAMES = {
    "hrv_balance": "HRV balance (7-day average against your normal range)",
    "last_night_hrv": "Last night's HRV",
    "resting_hr": "Resting heart rate",
    "sleep": "Last night's sleep",
    "sleep_debt": "Sleep debt (last 14 nights)",
    "training_load": "Training load",
}

STATUS_WORDS = {
    "calibrating": (
        "Early score",
        f"fewer than {PROVISIONAL_HRV_DAYS} nights of HRV stand behind the baseline, so this is a first "
        f"estimate. It becomes provisional at {PROVISIONAL_HRV_DAYS} nights and full at {FULL_HRV_DAYS}.",
    ),
    "provisional": (
        "Provisional",
        f"between {PROVISIONAL_HRV_DAYS} and {FULL_HRV_DAYS - 1} nights of HRV stand behind the baseline; "
        f"it is still settling, so read small changes with care. It becomes full at {FULL_HRV_DAYS} nights.",
    ),
    "full": (
        "Full",
        f"at least {FULL_HRV_DAYS} nights of HRV stand behind the baseline, the whole window readiness "
        "compares with.",
    ),
}

SIGNAL_WORDS = {"hrv": "HRV", "sleep": "sleep", "readiness": "readiness", "training": "training"}


@dataclass(frozen=True)
class Gauge:
    """The readiness gauge as SVG paths: a 240° track and the part of it the score fills."""

    score: int
    band: str
    track: str
    value: str  # empty for a score of 0

    @property
    def label(self) -> str:
        return f"Readiness {self.score} of 100, {self.band}"


GAUGE_CENTRE = (100.0, 100.0)
GAUGE_RADIUS = 80.0
GAUGE_START_DEG = 150.0  # lower left, going clockwise over the top to the lower right
GAUGE_SWEEP_DEG = 240.0


def arc_path(fraction: float) -> str:
    """An SVG path along the gauge's circle from its start over ``fraction`` of its sweep."""
    sweep = GAUGE_SWEEP_DEG * min(max(fraction, 0.0), 1.0)
    if sweep <= 0:
        return ""
    cx, cy = GAUGE_CENTRE

    def point(degrees: float) -> str:
        angle = math.radians(degrees)
        return f"{cx + GAUGE_RADIUS * math.cos(angle):.2f} {cy + GAUGE_RADIUS * math.sin(angle):.2f}"

    large = 1 if sweep > 180 else 0
    end = point(GAUGE_START_DEG + sweep)
    return f"M {point(GAUGE_START_DEG)} A {GAUGE_RADIUS:g} {GAUGE_RADIUS:g} 0 {large} 1 {end}"


TRACK_PATH = arc_path(1.0)


def gauge(score: int, band: str) -> Gauge:
    return Gauge(score, band, TRACK_PATH, arc_path(score / 100))


def scored_view(readiness: ReadinessOut, tz: str, is_self: bool) -> dict[str, Any]:
    band_word, band_range, band_meaning = BAND_WORDS.get(readiness.band, (readiness.band, "", ""))
    status_word, status_meaning = STATUS_WORDS.get(readiness.status, (readiness.status, ""))
    computed = readiness.updated_at.astimezone(ZoneInfo(tz))
    return {
        "gauge": gauge(readiness.readiness, readiness.band),
        "score": readiness.readiness,
        "band": readiness.band,
        "band_word": band_word,
        "band_range": band_range,
        "band_meaning": band_meaning,
        "drivers": readiness.drivers,
        "components": [component_view(c.name, c.score, c.weight) for c in readiness.components],
        "hidden": [SIGNAL_WORDS.get(signal, signal) for signal in readiness.hidden],
        "flags": visible_flags(readiness),
        "status": readiness.status,
        "status_word": status_word,
        "status_meaning": status_meaning,
        "stale": stale_view(readiness) if readiness.stale else None,
        "computed_at": f"{computed:%H:%M} on {long_day(computed.date())}",
        "time_zone": tz,
        "is_self": is_self,
    }


def component_view(name: str, score: float, weight: float) -> dict[str, Any]:
    value = round(score)
    return {
        "name": COMPONENT_NAMES.get(name, name.replace("_", " ").capitalize()),
        "score": value,
        "band": band_for(value),
        "weight_pct": round(weight * 100),
        "bar": max(0, min(100, value)),
    }


def stale_view(readiness: ReadinessOut) -> dict[str, Any]:
    """How old the data behind a stale score is, from the staleness drivers the viewer sees."""
    ages = [
        int(fact["values"]["age_days"])
        for fact in readiness.driver_facts
        if fact.get("code") in ("stale_hrv", "stale_rhr")
        and isinstance((fact.get("values") or {}).get("age_days"), int | float)
    ]
    return {"age_days": max(ages) if ages else None, "after_days": STALE_AFTER_DAYS}


# --------------------------------------------------------------------------------------------
# No score
# --------------------------------------------------------------------------------------------


def missing_view(reason: str, detail: NoScoreDetail, is_self: bool, name: str) -> dict[str, Any]:
    view: dict[str, Any] = {"reason": reason, "is_self": is_self, "name": name, "needed": MIN_HRV_DAYS}
    if reason == "calibrating":
        nights = detail.hrv_nights
        view.update(
            title="Calibrating your baseline" if is_self else "Calibrating the baseline",
            nights=nights,
            to_go=None if nights is None else max(MIN_HRV_DAYS - nights, 1),
        )
    elif reason == "no_recent_data":
        view.update(
            title="No recent data",
            silent_days=NO_RECENT_AFTER_DAYS,
            last_data=None if detail.last_data is None else long_day(detail.last_data),
        )
    else:
        view.update(title="No data yet")
    return view
