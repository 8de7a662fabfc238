"""The weekly pages in Chromium: the athlete's week with its chart drawn, the team's week, both
meeting the accessibility bar, at desktop and phone sizes. The live server runs on the real
clock, so the week seeded is the latest one due now."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from tests.insights.weekdata import full_day, put_day_in
from tests.web.browser import LiveServer, WebUser, check_accessibility, login, screenshot

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.insights.service import last_due_week
from perfhub.teams.service import create_team, join_team

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture(scope="module")
def people(live_server: LiveServer) -> tuple[WebUser, WebUser, int]:
    """An athlete whose readiness fell from 80 to 60 last week, in a team sharing readiness and
    sleep with its coach."""
    athlete = live_server.user(name="Wren Week")
    coach = live_server.user("coach", name="Coach Week")
    monday = last_due_week("UTC", datetime.now(UTC))
    with session_scope(live_server.sessions) as session:
        coach_user, athlete_user = session.get(User, coach.id), session.get(User, athlete.id)
        assert coach_user is not None and athlete_user is not None
        team_id = create_team(session, "Week squad", coach_user).id
        join_team(session, team_id, athlete_user, {"readiness", "sleep"})
    for i in range(3):
        put_day_in(
            live_server.sessions, athlete.id, monday - timedelta(weeks=1) + timedelta(days=i), 80, full_day()
        )
        put_day_in(
            live_server.sessions,
            athlete.id,
            monday + timedelta(days=i),
            60,
            full_day(ln7=3.9, debtHours=2.0 + i),
            flags=("hrv_below_range",),
        )
    return athlete, coach, team_id


def test_browser_athletes_week(
    page: Page, live_server: LiveServer, people: tuple[WebUser, WebUser, int]
) -> None:
    athlete, _, _ = people
    login(page, live_server, athlete)
    page.goto(live_server.url + "/today")
    page.get_by_role("link", name="Your last week").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your week")
    expect(page.locator("#sentences li").first).to_contain_text("down 20 points from 80")
    expect(page.locator("#week-readiness")).to_have_attribute("data-points", "3")
    expect(page.locator("#figures")).to_contain_text("mean 60 over 3 scored days")
    check_accessibility(page)
    screenshot(page, "week")


def test_browser_teams_week(
    page: Page, live_server: LiveServer, people: tuple[WebUser, WebUser, int]
) -> None:
    _, coach, team_id = people
    login(page, live_server, coach)
    page.goto(f"{live_server.url}/teams/{team_id}")
    page.get_by_role("link", name="Last week in figures").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Week squad · week \d{4}-W\d{2}$"))
    row = page.get_by_role("row", name=re.compile("Wren Week"))
    expect(row).to_contain_text("-20 down")
    expect(row).to_contain_text("sleep debt rising")
    expect(row).to_contain_text("hidden")  # training is not shared
    check_accessibility(page)
    screenshot(page, "team-week")
