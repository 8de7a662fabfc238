"""The plan pages (#14) in Chromium: an athlete accepts a readiness adjustment and reverts it (with
htmx, and as plain forms without JavaScript), and the page shows the original again; a coach
reads the team's adherence. Each page passes axe-core and is screenshotted at phone and desktop
size. The clock travels to fixed days (ticking from there), so the hour of the run never moves a
session to another day.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from playwright.sync_api import BrowserContext, Locator, Page, expect
from tests.readiness.teamdata import Shape, write_history
from tests.web.browser import LiveServer, WebUser, at_each_size, check_accessibility, login, screenshot

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.plans.models import PlannedSession
from perfhub.plans.schemas import SessionFields
from perfhub.plans.service import create_session, decide
from perfhub.teams.service import create_team, join_team
from perfhub.training.service import record_planned

pytestmark = pytest.mark.backends("sqlite")

TODAY = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
WEEK_AGO = TODAY - timedelta(days=7)
ALL = {"hrv", "sleep", "readiness", "training"}
SICK = Shape(sick=3, seed=21)


@pytest.fixture
def clock() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield


@dataclass(frozen=True)
class Seeded:
    team_id: int
    coach: WebUser
    ada: WebUser  # sick today, with a hard session planned today
    bo: WebUser  # sick a week ago, accepted that day's adjustment and rested
    cy: WebUser  # kept one session, missed another
    today_hard: int
    today_easy: int


def fields(day: date, kind: str, title: str, minutes: int) -> SessionFields:
    return SessionFields.model_validate(
        {
            "date": day.isoformat(),
            "sport": "run",
            "title": title,
            "type": kind,
            "durationMin": minutes,
            "intensity": {"kind": "zone", "value": 4 if kind == "hard" else 2},
            "plannedLoad": 7.0 * minutes if kind == "hard" else None,
        }
    )


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> Seeded:
    """A team whose athletes were sick a week ago (Bo, Cy) or are today (Ada), with their plans."""
    coach = live_server.user("coach", name="Casey Coach")
    ada, bo, cy = (live_server.user(name=name) for name in ("Ada Open", "Bo Rested", "Cy Mixed"))
    with session_scope(live_server.sessions) as session:
        coach_user = session.get(User, coach.id)
        assert coach_user is not None
        team = create_team(session, "Harriers", coach_user)
        people = {}
        for person in (ada, bo, cy):
            user = session.get(User, person.id)
            assert user is not None
            join_team(session, team.id, user, ALL)
            people[person.id] = user
        team_id = team.id
    day_before = WEEK_AGO.date()
    with time_machine.travel(WEEK_AGO, tick=False), session_scope(live_server.sessions) as session:
        bo_user, cy_user = session.get(User, bo.id), session.get(User, cy.id)
        assert bo_user is not None and cy_user is not None
        write_history(session, [bo_user, cy_user], 40, {bo.id: SICK, cy.id: Shape(seed=22)})
        rested = create_session(session, bo_user, bo_user, fields(day_before, "hard", "Hill repeats", 60))
        decide(session, bo_user, rested, "accepted")
        tempo = create_session(session, cy_user, cy_user, fields(day_before, "moderate", "Tempo", 50))
        create_session(session, cy_user, cy_user, fields(day_before + timedelta(days=1), "easy", "Jog", 40))
        record_planned(session, cy.id, cy_user, tempo.id, tempo.date, "run", 50, 5)
    with time_machine.travel(TODAY, tick=False), session_scope(live_server.sessions) as session:
        ada_user = session.get(User, ada.id)
        assert ada_user is not None
        write_history(session, [ada_user], 40, {ada.id: SICK})
        hard = create_session(session, ada_user, ada_user, fields(TODAY.date(), "hard", "Intervals", 60))
        easy = create_session(
            session, ada_user, ada_user, fields(TODAY.date() + timedelta(days=2), "easy", "Recovery jog", 40)
        )
        hard_id, easy_id = hard.id, easy.id
    with live_server.sessions() as session:
        proposed = session.get(PlannedSession, hard_id)
        assert proposed is not None
    return Seeded(team_id, coach, ada, bo, cy, hard_id, easy_id)


def status(card: Locator) -> Locator:
    return card.locator(".adjustment-status")


def fact(card: Locator, term: str) -> Locator:
    return card.locator(".session-facts div", has=card.page.locator(f"dt:text-is('{term}')")).locator("dd")


def test_browser_the_athlete_accepts_then_reverts_and_sees_the_original_again(
    live_server: LiveServer, page: Page, seeded: Seeded, clock: None
) -> None:
    login(page, live_server, seeded.ada)
    page.goto(f"{live_server.url}/plan")
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan")
    card = page.locator(f"#session-{seeded.today_hard}")
    expect(status(card)).to_have_text("Proposed")
    expect(fact(card, "Type")).to_have_text("Hard")
    diff = card.get_by_role("table")
    expect(diff.locator("tbody tr")).to_have_count(4)
    expect(diff.locator("tbody tr").first).to_have_text(re.compile(r"Type\s*Hard\s*Rest"))
    expect(card.locator(".rationale")).to_contain_text("Possible illness or accumulated strain")
    check_accessibility(page)
    screenshot(page, "plan-proposed")

    card.get_by_role("button", name="Accept the adjusted Intervals").click()
    expect(status(card)).to_have_text("Accepted")
    expect(fact(card, "Type")).to_have_text("Rest")
    expect(fact(card, "Duration")).to_have_text("0 min")
    expect(card.locator(".history li")).to_have_text(
        [re.compile(r"^Accepted by you at \d\d:\d\d on Tuesday 10 March 2026$")]
    )
    # htmx swapped the card in place; the focus is on where the adjustment now stands.
    assert page.url.endswith("/plan")
    expect(card.locator("h4")).to_be_focused()
    expect(card.get_by_role("button", name=re.compile("^Accept"))).to_have_count(0)

    card.get_by_role("button", name="Revert Intervals to the original plan").click()
    expect(status(card)).to_have_text("Reverted")
    expect(fact(card, "Type")).to_have_text("Hard")
    expect(fact(card, "Duration")).to_have_text("60 min")
    expect(fact(card, "Intensity")).to_have_text("zone 4")
    expect(card.locator(".history li")).to_have_count(2)
    expect(card.locator(".history li").nth(1)).to_contain_text("Reverted by you at")
    check_accessibility(page)

    # The page reloaded says the same: the session as finally decided is the plan.
    page.reload()
    expect(status(card)).to_have_text("Reverted")
    expect(fact(card, "Type")).to_have_text("Hard")
    with at_each_size(page) as sized:
        phone = sized["phone"]
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        rows = phone.eval_on_selector_all(
            'nav[aria-label="Main"] li', "items => new Set(items.map(item => item.offsetTop)).size"
        )
        assert rows <= 2, f"the navigation takes {rows} rows on a phone"
        expect(sized["desktop"].locator('nav[aria-label="Main"] a[aria-current="page"]')).to_have_text("Plan")
    screenshot(page, "plan-reverted")

    # A value refused: the page again, the alert leading to the field that says why.
    later = page.locator(f"#session-{seeded.today_easy}")
    expect(later.locator("summary")).to_have_count(0)  # two days ahead: nothing to mark done yet
    card.locator("summary").click()
    card.get_by_label("Minutes").fill("0")
    card.get_by_label("RPE (0–10)").fill("5")
    card.get_by_role("button", name="Save Intervals as done").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(card.get_by_label("Minutes")).to_have_attribute("aria-invalid", "true")
    expect(card.locator(".field-error")).to_have_text("Minutes must be more than 0 and at most 1440.")
    check_accessibility(page)


def test_browser_the_forms_work_without_javascript(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], seeded: Seeded, clock: None
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    login(page, live_server, seeded.ada)
    page.goto(f"{live_server.url}/plan")
    card = page.locator(f"#session-{seeded.today_hard}")
    card.get_by_role("button", name="Accept the adjusted Intervals").click()
    expect(page).to_have_url(f"{live_server.url}/plan#session-{seeded.today_hard}")
    expect(status(card)).to_have_text("Accepted")
    card.get_by_role("button", name="Revert Intervals to the original plan").click()
    expect(status(card)).to_have_text("Reverted")
    expect(fact(card, "Type")).to_have_text("Hard")

    # Marking today's session done, and a refused value said next to its field.
    card.locator("summary").click()
    card.get_by_label("Minutes").fill("30")
    card.get_by_label("RPE (0–10)").fill("12")
    card.get_by_role("button", name="Save Intervals as done").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(card.get_by_label("RPE (0–10)")).to_have_attribute("aria-invalid", "true")
    card.get_by_label("RPE (0–10)").fill("7")
    card.get_by_role("button", name="Save Intervals as done").click()
    expect(card.locator(".done")).to_contain_text("Done: 30 min, RPE 7, load 210")

    page.locator("#log-sport").fill("swim")
    page.locator("#log-minutes").fill("25")
    page.locator("#log-rpe").fill("3")
    page.get_by_role("button", name="Log the session").click()
    expect(page).to_have_url(f"{live_server.url}/plan#done-unplanned")
    expect(page.locator(".unplanned li").first).to_contain_text("swim, 25 min, RPE 3, load 75")


def test_browser_the_coach_sees_adherence_and_the_athletes_plan(
    live_server: LiveServer, page: Page, seeded: Seeded, clock: None
) -> None:
    login(page, live_server, seeded.coach)
    page.goto(f"{live_server.url}/teams/{seeded.team_id}")
    page.get_by_role("link", name="Plan adherence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harriers · plan adherence")
    # Bo rested as adjusted (kept), Cy kept the tempo and missed the jog; Ada's days are not over.
    expect(page.locator("#adherence-overall")).to_have_text("2 of 3 (67%) planned sessions kept.")
    expect(page.locator('[data-group="accepted"]')).to_have_text("Accepted: 1 of 1 (100%)")
    expect(page.locator('[data-group="unadjusted"]')).to_have_text("Unadjusted: 1 of 2 (50%)")
    chart = page.locator("#adherence-chart")
    expect(chart).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    expect(chart.locator("canvas")).to_have_count(1)
    expect(page.locator("#athletes-table tbody tr")).to_have_count(3)
    check_accessibility(page)
    screenshot(page, "plan-adherence")
    with at_each_size(page) as sized:
        assert sized["phone"].evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_role("link", name="Ada Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Open · plan")
    card = page.locator(f"#session-{seeded.today_hard}")
    expect(card.locator(".rationale")).to_contain_text("Readiness")
    expect(page.locator("#load-chart, #no-load")).to_have_count(1)
    check_accessibility(page)
    screenshot(page, "plan-coach")
