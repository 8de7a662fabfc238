"""The profile page: time zone, sleep need and source priority, and changing the password.

The settings go through the same validation (``MePatch``) and service (``update_profile``) as
``PATCH /api/v1/me``; the page only turns what a person types ("7:30") into what the API takes,
and an empty sleep need into null (estimated from the athlete's nights, shown beside the field).
Coaches and admins set their time zone only: sleep need and sources are about an athlete's data.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, cast

from annotated_types import Ge, Le
from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from perfhub.auth.models import User
from perfhub.auth.passwords import MAX_LENGTH, MIN_LENGTH, set_password
from perfhub.auth.service import validate_timezone
from perfhub.auth.sessions import SESSION_LIFETIME, confirm_password, end_all_sessions, start_session
from perfhub.core.dates import local_today
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound, TooManyRequests, Unprocessable
from perfhub.privacy.deps import ReadRequest
from perfhub.profile.schemas import MePatch
from perfhub.profile.service import update_profile
from perfhub.readiness.engine.sleep_debt import NEED_MIN_NIGHTS, NEED_WINDOW
from perfhub.readiness.sleep_need import SleepNeed, sleep_need_on
from perfhub.readings.queries import source_priority
from perfhub.readings.schemas import VENDORS
from perfhub.wearables.vendors.registry import DISPLAY_NAMES
from perfhub.web.deps import CsrfChecked, PageRead, Viewer
from perfhub.web.security import finish_page, set_session_cookie
from perfhub.web.templating import render

router = APIRouter()

# The viewer's own settings: what GET/PATCH /api/v1/me read.
OwnSettings = Annotated[ReadRequest, PageRead(own=True)]

SOURCE_WORDS = {**DISPLAY_NAMES, "apple": "Apple Health", "manual": "Entered by hand"}
RANK_WORDS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth")
SLEEP_NEED_TEXT = re.compile(r"(?P<number>\d{1,4})(?::(?P<minutes>[0-5]\d))?")


def _sleep_need_bounds() -> tuple[int, int]:
    """The bounds of ``MePatch.sleep_need_min``: the page takes exactly what the API takes."""
    rules = MePatch.model_fields["sleep_need_min"].metadata
    low = next(cast(int, rule.ge) for rule in rules if isinstance(rule, Ge))
    high = next(cast(int, rule.le) for rule in rules if isinstance(rule, Le))
    return low, high


SLEEP_NEED_MIN, SLEEP_NEED_MAX = _sleep_need_bounds()


@cache
def time_zones() -> list[str]:
    """Every IANA zone this server knows, for the time zone field's suggestions."""
    return sorted(zone for zone in zoneinfo.available_timezones() if "/" in zone or zone == "UTC")


def hours_and_minutes(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def in_words(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


SLEEP_NEED_RANGE = f"from {in_words(SLEEP_NEED_MIN)} to {in_words(SLEEP_NEED_MAX)}"


def parse_sleep_need(raw: str) -> int | None:
    """Minutes from "450" (minutes) or "7:30" (hours and minutes), None (estimate it) when empty;
    ValueError when it is none of these."""
    if not raw.strip():
        return None
    match = SLEEP_NEED_TEXT.fullmatch(raw.strip())
    if match is None:
        raise ValueError(raw)
    if match["minutes"] is None:
        return int(match["number"])
    return int(match["number"]) * 60 + int(match["minutes"])


@dataclass
class ProfileForm:
    """What the settings form shows: the stored values, or what the person typed, and what is wrong."""

    tz: str
    sleep_need: str = ""
    priority: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, user: User) -> ProfileForm:
        need = "" if user.sleep_need_min is None else hours_and_minutes(user.sleep_need_min)
        return cls(user.tz, need, list(source_priority(user)))


def estimate_words(need: SleepNeed) -> str:
    """The estimate from the athlete's nights, for the hint beside the sleep-need field."""
    minutes = in_words(round(need.estimate))
    if need.nights_missing:
        return f"Estimated: {minutes} until we have {NEED_MIN_NIGHTS} nights ({need.nights} so far)."
    return f"Estimated from your last {NEED_WINDOW} nights: {minutes}."


def _load(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def _page(
    request: Request,
    session: Session,
    user: User,
    form: ProfileForm,
    *,
    password_error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    ranks = max(len(VENDORS), len(form.priority))
    estimate = ""
    if user.role == "athlete":
        today = local_today(user.tz, request.app.state.runtime.clock())
        estimate = estimate_words(sleep_need_on(session, user, today))
    return render(
        request,
        "profile.html",
        {
            "person": {"email": user.email, "name": user.name, "role": user.role},
            "is_athlete": user.role == "athlete",
            "form": form,
            "ranks": [
                (RANK_WORDS[i], form.priority[i] if i < len(form.priority) else "") for i in range(ranks)
            ],
            "sources": [(vendor, SOURCE_WORDS.get(vendor, vendor)) for vendor in VENDORS],
            "time_zones": time_zones(),
            "sleep_need_min": SLEEP_NEED_MIN,
            "sleep_need_max": SLEEP_NEED_MAX,
            "sleep_need_range": SLEEP_NEED_RANGE,
            "sleep_need_estimate": estimate,
            "password_error": password_error,
            "password_min": MIN_LENGTH,
            "notice": notice,
        },
        user=user,
        status_code=status_code,
        title="Profile",
    )


NOTICES = {
    "saved": "Your settings are saved.",
    "password": "Your password is changed. Every other browser signed in as you has been signed out.",
}


@router.get("/profile")
def profile_page(request: Request, uow: UowDep, me: OwnSettings, done: str | None = None) -> Response:
    with uow() as session:
        user = _load(session, me.subject_id)
        return _page(request, session, user, ProfileForm.of(user), notice=NOTICES.get(done or "", ""))


def _settings_patch(user: User, form: ProfileForm) -> MePatch | None:
    """The change the form asks for, or None with ``form.errors`` saying what is wrong."""
    values: dict[str, Any] = {}
    tz = form.tz.strip()
    if not tz:
        form.errors["tz"] = "Choose a time zone, for example Europe/Oslo."
    else:
        try:
            values["tz"] = validate_timezone(tz)
        except Unprocessable:
            form.errors["tz"] = f"“{tz}” is not a time zone this server knows. Pick one from the list."
    if user.role == "athlete":
        try:
            values["sleepNeedMin"] = parse_sleep_need(form.sleep_need)
        except ValueError:
            form.errors["sleep_need"] = "Enter hours and minutes (7:30) or minutes (450)."
        values["sourcePriority"] = [vendor for vendor in form.priority if vendor]
    try:
        patch = MePatch.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0])
            if name == "sleepNeedMin":
                form.errors.setdefault("sleep_need", f"Your sleep need must be {SLEEP_NEED_RANGE}.")
            elif name == "sourcePriority":
                form.errors.setdefault("priority", _priority_problem(error))
            else:
                form.errors.setdefault(name, str(error["msg"]))
        return None
    return None if form.errors else patch


def _priority_problem(error: Any) -> str:
    if error["type"] == "too_short":
        return "Choose at least one source."
    if error["type"] == "literal_error":
        return "Choose each source from the list."
    return "Choose each source at most once."


@router.post("/profile", dependencies=[CsrfChecked])
def save_profile(
    request: Request,
    uow: UowDep,
    me: OwnSettings,
    tz: Annotated[str, Form(max_length=200)] = "",
    sleep_need: Annotated[str, Form(max_length=40)] = "",
    priority: Annotated[list[str] | None, Form()] = None,
) -> Response:
    with uow() as session:
        user = _load(session, me.subject_id)
        form = ProfileForm(tz=tz, sleep_need=sleep_need, priority=(priority or [])[: len(RANK_WORDS)])
        patch = _settings_patch(user, form)
        if patch is None:
            return _page(request, session, user, form, status_code=422)
        update_profile(session, user.id, patch)
    return finish_page(request, RedirectResponse("/profile?done=saved", status_code=303))


@router.post("/profile/password", dependencies=[CsrfChecked])
def change_password(
    request: Request,
    uow: UowDep,
    viewer: Viewer,
    current_password: Annotated[str, Form(max_length=MAX_LENGTH * 4)] = "",
    new_password: Annotated[str, Form(max_length=MAX_LENGTH * 4)] = "",
    confirm_password_field: Annotated[str, Form(alias="confirm_password", max_length=MAX_LENGTH * 4)] = "",
) -> Response:
    """A new password; every session of the person ends and this browser gets a fresh one."""
    now = request.app.state.runtime.clock()
    with uow() as session:
        user = _load(session, viewer.id)
        client = request.client.host if request.client is not None else "unknown"
        try:
            confirmed = confirm_password(session, user, current_password, client, now=now)
            problem = "" if confirmed else "That is not your current password."
        except TooManyRequests as exc:
            problem = exc.detail
        if problem:
            pass  # answered below, with the failure recorded by this unit of work
        elif new_password != confirm_password_field:
            problem = "The new password and its confirmation are not the same."
        elif new_password == current_password:
            problem = "The new password is the same as the current one."
        else:
            try:
                set_password(session, user, new_password)
            except Unprocessable as exc:
                problem = exc.detail[0].upper() + exc.detail[1:] + "."
        if problem:
            return _page(
                request, session, user, ProfileForm.of(user), password_error=problem, status_code=422
            )
        end_all_sessions(session, user.id)
        token, _ = start_session(session, user, now=now)
    response = finish_page(request, RedirectResponse("/profile?done=password", status_code=303))
    set_session_cookie(request, response, token, int(SESSION_LIFETIME.total_seconds()))
    return response
