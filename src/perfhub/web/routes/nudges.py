"""The nudges page: an athlete's nudges in words, and the switch for sleep-debt nudges.

The switch is a form that works on its own (Post/Redirect/Get); htmx, where it runs, posts it
as soon as the box changes and puts the server's confirmation into the page's status region.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from perfhub.alerts import service
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden
from perfhub.privacy.deps import ReadRequest
from perfhub.privacy.disclosure import ALERT_SIGNALS
from perfhub.privacy.policy import disclose_alerts
from perfhub.web.deps import CsrfChecked, PageRead
from perfhub.web.security import finish_page
from perfhub.web.templating import render

router = APIRouter()

# The nudges of an athlete: what GET /api/v1/alerts reads, under the same policy.
NudgesRead = Annotated[ReadRequest, PageRead(signals=set(ALERT_SIGNALS.values()))]
OwnSettings = Annotated[ReadRequest, PageRead(own=True)]

KIND_WORDS = {service.SLEEP_DEBT: "Sleep debt"}
# Severity in words and a band style: the words carry the meaning, the colour only repeats it.
SEVERITY_WORDS = {"warning": ("Moderate", "band-reduced"), "critical": ("High", "band-low")}


@dataclass(frozen=True)
class NudgeView:
    kind: str
    day: date
    day_words: str
    severity: str
    severity_class: str
    message: str


def day_words(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def nudge_view(kind: str, day: date, severity: str, message: str) -> NudgeView:
    words, band = SEVERITY_WORDS.get(severity, (severity.capitalize(), "band-normal"))
    return NudgeView(
        kind=KIND_WORDS.get(kind, kind.replace("_", " ").capitalize()),
        day=day,
        day_words=day_words(day),
        severity=words,
        severity_class=band,
        message=message,
    )


def preference_words(on: bool) -> str:
    return (
        "Sleep-debt nudges are on: you get one when your sleep debt reaches moderate or high."
        if on
        else "Sleep-debt nudges are off: you get none, whatever your sleep debt."
    )


@router.get("/nudges")
def nudges_page(request: Request, uow: UowDep, read: NudgesRead, saved: bool = False) -> Response:
    """The athlete's own nudges, or (``?userId=``) those of an athlete who shares sleep with a coach."""
    viewer = read.viewer
    if read.subject_id == viewer.id and viewer.role != "athlete":
        raise Forbidden(f"Nudges are for athletes; your account is a {viewer.role} account.")
    with uow() as session:
        access = read.authorize(session)
        alerts = disclose_alerts(access, service.list_alerts(session, access.subject.id), lambda a: a.kind)
        nudges = [nudge_view(a.kind, a.date, a.severity, a.message) for a in alerts]
        sleep_debt_on = service.preferences(session, access.subject.id).sleep_debt
        subject_name = access.subject.name or access.subject.email
        own = access.is_self
    return render(
        request,
        "nudges.html",
        {
            "nudges": nudges,
            "own": own,
            "subject_name": subject_name,
            "sleep_debt_on": sleep_debt_on,
            "status_message": preference_words(sleep_debt_on) if saved and own else "",
        },
        user=viewer,
        title="Nudges" if own else f"Nudges of {subject_name}",
    )


@router.post("/nudges/preferences", dependencies=[CsrfChecked])
def save_preferences(
    request: Request,
    uow: UowDep,
    me: OwnSettings,
    sleep_debt: Annotated[Literal["on", "off"] | None, Form()] = None,
) -> Response:
    """Turn sleep-debt nudges on or off (a ticked box sends ``on``; an unticked one sends nothing)."""
    if me.viewer.role != "athlete":
        raise Forbidden(f"Nudges are for athletes; your account is a {me.viewer.role} account.")
    with uow() as session:
        on = service.set_preferences(session, me.subject_id, sleep_debt=sleep_debt == "on").sleep_debt
    if request.headers.get("hx-request") == "true":
        # htmx swaps this into the status region; the box already shows what was chosen.
        return finish_page(request, HTMLResponse("Saved. " + html.escape(preference_words(on))))
    return finish_page(request, RedirectResponse("/nudges?saved=true", status_code=303))
