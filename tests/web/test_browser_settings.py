"""The settings pages in Chromium: the nudge switch saves without a reload and stays saved, the
Apple Health upload shows its progress and its result in words, and every page (nudges, profile,
connections, teams as a coach, the overview as an admin) passes axe and is photographed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from tests.wearables.apple_export import ExportSpec, write_export_xml
from tests.web.browser import LiveServer, check_accessibility, login, screenshot

from perfhub.alerts.models import Alert
from perfhub.alerts.service import preferences
from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.readings.models import RawEvent
from perfhub.teams.service import create_team, join_team

# Every text the upload's status region shows, in order (a MutationObserver set up before the upload).
RECORD_STATUSES = """() => {
  window.statuses = [];
  const region = document.getElementById("upload-status");
  new MutationObserver(() => window.statuses.push(region.textContent.trim()))
    .observe(region, {childList: true, subtree: true, characterData: true});
}"""


def test_the_nudge_switch_saves_without_a_reload_and_stays_saved(live_server: LiveServer, page: Page) -> None:
    athlete = live_server.user(name="Ada Runner")
    with session_scope(live_server.sessions) as session:
        for days_ago, severity, hours in ((1, "critical", 9.4), (5, "warning", 6.1)):
            session.add(
                Alert(
                    user_id=athlete.id,
                    kind="sleep_debt",
                    date=date(2026, 11, 25) - timedelta(days=days_ago),
                    severity=severity,
                    message=f"Sleep debt {hours} h over the last 14 nights. "
                    "An earlier bedtime for the next few nights pays it back.",
                )
            )
    login(page, live_server, athlete)
    page.goto(live_server.url + "/nudges")
    switch = page.get_by_label("Nudge me when my sleep debt is moderate or high")
    expect(switch).to_be_checked()
    expect(page.get_by_role("button", name="Save")).to_be_hidden()  # the switch saves itself
    expect(page.get_by_text("Tuesday 24 November 2026")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "nudges")

    page.evaluate("window.sameDocument = true")
    switch.uncheck()
    status = page.get_by_role("status")
    expect(status).to_have_text("Saved. Sleep-debt nudges are off: you get none, whatever your sleep debt.")
    assert page.evaluate("window.sameDocument") is True  # no reload: the same document is showing
    with live_server.sessions() as session:
        assert preferences(session, athlete.id).sleep_debt is False

    page.reload()
    expect(page.get_by_label("Nudge me when my sleep debt is moderate or high")).not_to_be_checked()
    page.get_by_label("Nudge me when my sleep debt is moderate or high").check()
    expect(page.get_by_role("status")).to_contain_text("Sleep-debt nudges are on")
    page.reload()
    expect(page.get_by_label("Nudge me when my sleep debt is moderate or high")).to_be_checked()


def test_the_upload_shows_its_progress_then_the_result_in_words(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    athlete = live_server.user(tz="America/Los_Angeles")
    start = datetime.now(UTC).date() - timedelta(days=30)
    export = write_export_xml(tmp_path / "export.xml", ExportSpec(start=start, days=21))
    login(page, live_server, athlete)
    page.goto(live_server.url + "/connections")
    expect(page.get_by_role("heading", name="Oura")).to_be_visible()
    expect(page.get_by_text("Not configured").first).to_be_visible()  # no vendor client on this server

    page.get_by_label("Apple Health export (export.zip or export.xml)").set_input_files(export.path)
    page.evaluate(RECORD_STATUSES)
    page.get_by_role("button", name="Upload and import").click()
    result = page.locator("#upload-status")
    expect(result).to_contain_text(f"Imported {export.used_records} records over ", timeout=60_000)
    expect(result).to_have_text(re.compile(r"^Imported \d+ records over (1[5-9]|2[01]) days\.$"))
    bar = page.get_by_label("Upload progress")
    expect(bar).to_be_visible()
    value, maximum = bar.evaluate("bar => [bar.value, bar.max]")
    assert value == maximum == export.bytes  # the whole file went up
    statuses = page.evaluate("window.statuses")
    assert any(text.startswith("Uploading export.xml") for text in statuses), statuses
    assert any(text.startswith("Importing…") for text in statuses), statuses
    assert page.url == live_server.url + "/connections"  # in place: no form post
    with live_server.sessions() as session:
        assert (session.scalar(select(func.count()).select_from(RawEvent)) or 0) > 0
    check_accessibility(page)
    screenshot(page, "connections")


def test_profile_teams_and_the_admin_overview_pass_axe(live_server: LiveServer, page: Page) -> None:
    athlete = live_server.user(name="Ada Runner", tz="Pacific/Kiritimati")
    login(page, live_server, athlete)
    page.goto(live_server.url + "/profile")
    expect(page.get_by_label("Time zone")).to_have_value("Pacific/Kiritimati")
    # Unset: the field is empty and its description says what is used meanwhile.
    expect(page.get_by_label("Sleep need")).to_have_value("")
    expect(page.get_by_label("Sleep need")).to_have_accessible_description(
        re.compile(
            r"leave it empty and it is estimated from your own nights\. Estimated: 8 h until we have 14"
        )
    )
    page.get_by_label("Sleep need").fill("3:00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("Your sleep need must be from 4 h to 12 h.")
    expect(page.get_by_label("Sleep need")).to_have_value("3:00")  # what was typed stays
    check_accessibility(page)  # with its error, as a screen reader meets it
    page.get_by_label("Sleep need").fill("")  # back to the estimate: an empty field is allowed
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Your settings are saved.")
    expect(page.get_by_label("Sleep need")).to_have_value("")
    check_accessibility(page)
    screenshot(page, "profile")

    coach = live_server.user("coach", name="Casey Coach")
    other = live_server.user(name="Bo Jackson")
    with session_scope(live_server.sessions) as session:
        team = create_team(session, "Rowers", session.get_one(User, coach.id))
        join_team(session, team.id, session.get_one(User, athlete.id), {"hrv", "sleep", "readiness"})
        join_team(session, team.id, session.get_one(User, other.id), {"sleep"})
    page.context.clear_cookies()
    login(page, live_server, coach)
    page.goto(live_server.url + "/teams")
    expect(page.get_by_role("heading", name="Rowers", exact=True)).to_be_visible()
    expect(page.get_by_text("Ada Runner")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "teams")

    admin = live_server.user("admin", name="Ari Admin")
    page.context.clear_cookies()
    login(page, live_server, admin)
    page.goto(live_server.url + "/admin")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Prometheus metrics")).to_have_attribute("href", "/metrics")
    check_accessibility(page)
    screenshot(page, "admin")
