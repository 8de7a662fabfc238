"""The coach's pages (#13): the teams list, a team's readiness table (hidden signals written as
hidden, filters and sort order in the URL, the CSV of exactly what is shown), invitations and
coaches, and the athlete drill-in with its charts — against the API's answers, for the roles
that may and may not see them. The browser tests at the end share one live server.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select
from tests.conftest import Harness
from tests.readiness.teamdata import Shape, write_history
from tests.web.browser import LiveServer, WebUser, at_each_size, check_accessibility, login, screenshot
from tests.web.coachkit import (
    ALL,
    API,
    Browser,
    team_table,
    team_with_history,
    text_of,
)
from tests.web.signin import HTML

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.privacy.models import AuditEntry
from perfhub.teams.models import TeamCoach, TeamInvitation
from perfhub.teams.service import create_team, join_team

pytestmark = pytest.mark.backends("sqlite")

NAMES = ["Ada Open", "Bo Sleep", "Cy Private", "Di Ready"]
SHARES: list[tuple[str, ...]] = [ALL, ("sleep",), (), ("readiness", "hrv")]
SHAPES = [Shape(sick=3, short=8, seed=1), Shape(short=8, seed=2), Shape(seed=3), Shape(seed=4)]


def api_table(harness: Harness, coach: dict[str, Any], team_id: int, **params: Any) -> dict[str, Any]:
    answer = harness.client.get(f"{API}/teams/{team_id}/readiness", params=params, headers=coach["headers"])
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# --- the team table --------------------------------------------------------------------------


def test_each_row_shows_what_is_shared_and_hidden_as_the_word_hidden(harness: Harness) -> None:
    team = team_with_history(harness, SHARES, names=NAMES, shapes=SHAPES)
    coach = Browser(harness, team.coach["email"])
    html = coach.get(f"/teams/{team.id}")
    _, rows = team_table(html)
    assert [row.name for row in rows] == NAMES  # by name, the default order
    api = {row["athleteId"]: row for row in api_table(harness, team.coach, team.id)["athletes"]}

    ada, bo, cy, di = rows
    ada_api = api[ada.athlete_id]
    assert ada.texts["readiness"] == f"{ada_api['readiness']} {ada_api['band'].capitalize()}"
    assert ada.labels["readiness"] == f"Readiness {ada_api['readiness']}, {ada_api['band']} band"
    assert ada.texts["debt"] == f"{ada_api['sleepDebtHours']:.1f} h High"
    minutes = round(ada_api["lastSleepMin"])
    assert ada.texts["sleep"].startswith(f"{minutes // 60}:{minutes % 60:02d}")
    assert ada.texts["hrv"].startswith("Below range ln rMSSD")  # the sick nights
    assert "Possible illness or strain" in ada.texts["flags"] and "Sleep debt" in ada.texts["flags"]
    assert all(text != "hidden" for text in ada.texts.values())

    # Bo shares sleep only: readiness, status, old data, HRV and flags are the word "hidden".
    for column in ("readiness", "status", "stale", "hrv", "flags"):
        assert bo.texts[column] == "hidden", column
        assert bo.classes[column] == "is-hidden"
        assert bo.labels[column].endswith(
            "hidden — Bo Sleep does not share " + ("HRV" if column == "hrv" else "Readiness") + " with you"
        )
    assert bo.texts["debt"].endswith("High") and bo.texts["sleep"] != "hidden"
    # Cy shares nothing: every column but the name is hidden, and nothing is a zero or blank.
    assert {column: text for column, text in cy.texts.items() if column != "athlete"} == dict.fromkeys(
        ("readiness", "status", "stale", "debt", "sleep", "hrv", "flags"), "hidden"
    )
    # Di shares readiness and HRV, not sleep: a sleep_debt flag would tell of sleep, so none.
    assert di.texts["debt"] == di.texts["sleep"] == "hidden"
    assert di.texts["readiness"] != "hidden" and "Sleep debt" not in di.texts["flags"]
    for row in rows:
        assert all(text.strip() not in ("", "0") for text in row.texts.values()), row

    words = text_of(html)
    assert "Showing 4 of 4 athletes." in words
    assert f'href="/teams/{team.id}/athletes/{ada.athlete_id}"' in html
    # The page read as the API reads, audited in one go: who read what, through this page.
    with harness.runtime.sessions() as session:
        audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor_id == team.coach["id"], AuditEntry.path == f"/teams/{team.id}"
            )
        ).all()
    assert sorted((entry.subject_id, tuple(entry.signals)) for entry in audit) == sorted(
        [
            (ada.athlete_id, ("hrv", "sleep", "readiness")),
            (bo.athlete_id, ("sleep",)),
            (di.athlete_id, ("hrv", "readiness")),
        ]
    )


def test_an_athlete_without_data_says_no_data_not_zero(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Eve Empty"], with_history=[False])
    _, (row,) = team_table(Browser(harness, team.coach["email"]).get(f"/teams/{team.id}"))
    assert set(row.texts.values()) == {"Eve Empty", "no data"}
    assert row.labels["readiness"] == "Readiness: no data for this day"


def test_filters_and_sorting_live_in_the_url_and_match_the_api(harness: Harness) -> None:
    team = team_with_history(harness, [ALL, ALL, ALL, ("sleep",)], names=NAMES, shapes=SHAPES)
    coach = Browser(harness, team.coach["email"])

    html = coach.get(f"/teams/{team.id}", sort="-readiness")
    headers, rows = team_table(html)
    api = api_table(harness, team.coach, team.id, sort="-readiness")
    assert [row.athlete_id for row in rows] == [row["athleteId"] for row in api["athletes"]]
    by_sort = {header.sort: header for header in headers}
    assert by_sort["readiness"].aria_sort == "descending"
    assert by_sort["readiness"].href == f"/teams/{team.id}?sort=readiness"  # the other way round
    assert by_sort["name"].aria_sort is None and by_sort["name"].href == f"/teams/{team.id}?sort=name"
    assert [h.sort for h in headers] == [
        "name",
        "readiness",
        "status",
        "stale",
        "sleepDebtHours",
        "lastSleepMin",
        "hrvVsNormal",
        "flags",
    ]

    # Filters combine; the form keeps them, the sort rides along as a hidden field.
    params = [("flag", "illness"), ("flag", "sleep_debt"), ("q", "o"), ("sort", "-sleepDebtHours")]
    answer = coach.client.get(f"/teams/{team.id}", params=params)
    assert answer.status_code == 200
    html = answer.text
    _, rows = team_table(html)
    api = api_table(
        harness, team.coach, team.id, flag=["illness", "sleep_debt"], q="o", sort="-sleepDebtHours"
    )
    assert [row.athlete_id for row in rows] == [row["athleteId"] for row in api["athletes"]]
    assert {row.name for row in rows} == {
        "Ada Open",
        "Bo Sleep",
    }  # Cy and Di have no flag; Bo's is sleep debt
    assert 'name="flag" value="illness" checked' in html and 'name="flag" value="sleep_debt" checked' in html
    assert 'name="flag" value="stale">' in html
    assert 'name="q" value="o"' in html and 'type="hidden" name="sort" value="-sleepDebtHours"' in html
    words = text_of(html)
    assert "Showing 2 of 4 athletes: flag possible illness or strain, sleep debt; name contains “o”." in words
    by_sort = {header.sort: header for header in team_table(html)[0]}
    assert parse_qsl(urlsplit(by_sort["readiness"].href).query) == [
        ("flag", "illness"),
        ("flag", "sleep_debt"),
        ("q", "o"),
        ("sort", "readiness"),
    ]
    csv_href = re.search(r'id="csv-link" href="([^"]+)"', html)
    assert csv_href is not None
    assert csv_href.group(1).replace("&amp;", "&") == (
        f"/teams/{team.id}/readiness.csv?flag=illness&flag=sleep_debt&q=o&sort=-sleepDebtHours"
    )


def test_the_csv_is_exactly_what_the_table_shows(harness: Harness) -> None:
    team = team_with_history(harness, SHARES, names=NAMES, shapes=SHAPES)
    coach = Browser(harness, team.coach["email"])
    query = [("band", "low"), ("band", "reduced"), ("band", "normal"), ("sort", "-readiness")]
    answer = coach.client.get(f"/teams/{team.id}", params=query)
    _, rows = team_table(answer.text)
    href = re.search(r'id="csv-link" href="([^"]+)"', answer.text)
    assert href is not None and rows
    download = coach.client.get(href.group(1).replace("&amp;", "&"))
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"].startswith(f'attachment; filename="team-{team.id}-')
    records = list(csv.DictReader(io.StringIO(download.text)))
    assert [int(r["athleteId"]) for r in records] == [row.athlete_id for row in rows]
    for record, row in zip(records, rows, strict=True):
        assert record["name"] == row.name
        shown = row.texts["readiness"]
        if "readiness" in record["hidden"].split(";"):
            assert shown == "hidden" and record["readiness"] == ""
        else:
            assert shown == f"{record['readiness']} {record['band'].capitalize()}"
        if "sleep" in record["hidden"].split(";"):
            assert record["sleepDebtHours"] == "" and row.texts["debt"] == "hidden"
        else:
            assert row.texts["debt"].startswith(f"{float(record['sleepDebtHours']):.1f} h")
    # The same file as the API's CSV for the same query, byte for byte.
    api = harness.client.get(
        f"{API}/teams/{team.id}/readiness.csv", params=query, headers=team.coach["headers"]
    )
    assert api.status_code == 200 and api.content == download.content
    # A range too: a row per athlete and day, the same as the API's.
    today = datetime.now(UTC).date()
    span = {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat(), "sort": "name"}
    page_range = coach.client.get(f"/teams/{team.id}/readiness.csv", params=span)
    api_range = harness.client.get(
        f"{API}/teams/{team.id}/readiness.csv", params=span, headers=team.coach["headers"]
    )
    assert page_range.status_code == 200 and page_range.content == api_range.content
    assert len(list(csv.DictReader(io.StringIO(page_range.text)))) == 7 * len(NAMES)


def test_a_bad_filter_is_an_error_page(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada"], with_history=[False])
    coach = Browser(harness, team.coach["email"])
    html = coach.get(f"/teams/{team.id}", status=422, band="purple")
    assert "Some of what you entered cannot be used" in html and "unknown band purple" in html
    assert "cannot sort by" in coach.get(f"/teams/{team.id}", status=422, sort="shoe")


# --- who may see it --------------------------------------------------------------------------


def test_roles_athletes_get_403_other_coaches_404(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada"], signing_in=[0], with_history=[False])
    other = team_with_history(harness, [ALL], names=["Zed"], with_history=[False])
    athlete_id = team.athletes[0]["id"]
    member = Browser(harness, team.athletes[0]["email"])
    refused = member.get(f"/teams/{team.id}", status=403)
    assert "You cannot do that here" in refused and "only the team&#39;s coaches read" in refused
    assert "Teams are for coaches and admins" in member.get("/teams", status=403)
    assert member.get(f"/teams/{team.id}/readiness.csv", status=403)
    # Through the team, a member opens their own days (unaudited), and nobody else's.
    own = member.get(f"/teams/{team.id}/athletes/{athlete_id}")
    assert '<a href="/sharing">Sharing</a>' in own and "Hidden:" not in text_of(own)

    stranger = Browser(harness, other.coach["email"])
    for path in (
        f"/teams/{team.id}",
        f"/teams/{team.id}/readiness.csv",
        f"/teams/{team.id}/athletes/{athlete_id}",
        "/teams/999999",
    ):
        assert "There is nothing here" in stranger.get(path, status=404), path
    # A member of the coach's own team is found; one of another team, through this one, is not.
    assert stranger.get(f"/teams/{other.id}/athletes/{athlete_id}", status=404)
    with harness.runtime.sessions() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.actor_id == other.coach["id"])).all() == []
        assert session.scalars(select(AuditEntry).where(AuditEntry.actor_id == athlete_id)).all() == []

    signed_out = harness.client.get(f"/teams/{team.id}", headers=HTML, follow_redirects=False)
    assert (
        signed_out.status_code == 303
        and signed_out.headers["location"] == f"/login?next=%2Fteams%2F{team.id}"
    )


def test_the_teams_list_links_each_team_and_starts_new_ones(harness: Harness) -> None:
    team = team_with_history(harness, [ALL, ("sleep",)], names=NAMES[:2], with_history=[False, False])
    coach = Browser(harness, team.coach["email"])
    html = coach.get("/teams")
    assert f'<a href="/teams/{team.id}">Squad</a>' in html
    assert "Squad 2 athletes." in text_of(html)

    blank = coach.post("/teams", {"name": "   "}, from_page="/teams")
    assert blank.status_code == 422 and "Give the team a name." in blank.text
    started = coach.post("/teams", {"name": "Rowers"}, from_page="/teams")
    assert started.status_code == 303
    new_id = int(started.headers["location"].split("/")[2].split("#")[0])
    with harness.runtime.sessions() as session:
        assert (
            session.scalar(select(TeamCoach.coach_id).where(TeamCoach.team_id == new_id)) == team.coach["id"]
        )
    assert "No athlete is in this team yet" in text_of(coach.get(f"/teams/{new_id}"))
    forged = coach.client.post("/teams", data={"name": "Forged", "csrf_token": "0" * 64})
    assert forged.status_code == 403


# --- invitations and coaches -----------------------------------------------------------------


def test_invite_list_and_withdraw_and_add_a_coach(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada"], with_history=[False])
    coach = Browser(harness, team.coach["email"])
    page = f"/teams/{team.id}"

    bad = coach.post(f"{page}/invitations", {"email": "not an address"}, from_page=page)
    assert bad.status_code == 422
    assert 'value="not an address"' in bad.text and "not an email address" in bad.text
    member = coach.post(f"{page}/invitations", {"email": team.athletes[0]["email"]}, from_page=page)
    assert member.status_code == 409 and "is already in team" in member.text

    sent = coach.post(f"{page}/invitations", {"email": "New.Runner@Example.org"}, from_page=page)
    assert sent.status_code == 303 and sent.headers["location"].endswith("#people")
    words = text_of(coach.get(sent.headers["location"].split("#")[0]))
    assert "new.runner@example.org is invited." in words
    assert "Invitations waiting for an answer new.runner@example.org open until" in words
    with harness.runtime.sessions() as session:
        (invitation,) = session.scalars(select(TeamInvitation).where(TeamInvitation.team_id == team.id)).all()
    withdrawn = coach.post(f"{page}/invitations/{invitation.id}/withdraw", {}, from_page=page)
    assert withdrawn.status_code == 303
    words = text_of(coach.get(withdrawn.headers["location"].split("#")[0]))
    assert "The invitation is withdrawn." in words and "Invitations waiting for an answer None." in words

    unknown = coach.post(f"{page}/coaches", {"email": "nobody@example.org"}, from_page=page)
    assert unknown.status_code == 422 and "no coach with email nobody@example.org" in unknown.text
    second = harness.user("coach")
    added = coach.post(f"{page}/coaches", {"email": second["email"]}, from_page=page)
    assert added.status_code == 303
    assert "The coach is added" in text_of(coach.get(added.headers["location"].split("#")[0]))
    with harness.runtime.sessions() as session:
        assert set(session.scalars(select(TeamCoach.coach_id).where(TeamCoach.team_id == team.id))) == {
            team.coach["id"],
            second["id"],
        }
    forged = coach.client.post(f"{page}/invitations", data={"email": "x@example.org"})
    assert forged.status_code == 403


# --- the drill-in ----------------------------------------------------------------------------


def chart_data(html: str, element_id: str) -> dict[str, Any]:
    found = re.search(rf'<script type="application/json" id="{element_id}-data">(.*?)</script>', html, re.S)
    assert found is not None, f"no data block for {element_id}"
    return dict(json.loads(found.group(1)))


def test_the_drill_in_charts_the_trend_and_says_hidden_for_what_is_not_shared(harness: Harness) -> None:
    team = team_with_history(harness, [ALL, ("sleep",)], names=NAMES[:2], shapes=SHAPES[:2])
    ada, bo = team.athletes
    coach = Browser(harness, team.coach["email"])
    today = datetime.now(UTC).date()
    start = today - timedelta(days=13)
    path = f"/teams/{team.id}/athletes/{ada['id']}"
    html = coach.get(path, **{"from": start.isoformat(), "to": today.isoformat()})
    trend = harness.client.get(
        f"{API}{path}/trend",
        params={"from": start.isoformat(), "to": today.isoformat()},
        headers=team.coach["headers"],
    ).json()
    days = trend["days"]
    readiness = chart_data(html, "readiness-chart")
    assert readiness["x"] == [day["date"] for day in days]
    assert readiness["series"][0]["values"] == [day["readiness"] for day in days]
    hrv = chart_data(html, "hrv-chart")
    values = {s["label"]: s["values"] for s in hrv["series"]}
    assert values["ln rMSSD, each night"] == [round(day["lnRMSSD"], 3) for day in days]
    assert values["Normal range, bottom"] == [round(day["normalLow"], 3) for day in days]
    assert hrv["band"] == {"series": [0, 1], "label": "Normal range"}
    rhr = {s["label"]: s["values"] for s in chart_data(html, "rhr-chart")["series"]}
    assert rhr["Resting HR"] == [day["restingHr"] for day in days]
    sleep = {s["label"]: s["values"] for s in chart_data(html, "sleep-chart")["series"]}
    assert sleep["Time asleep"] == [round(day["sleepMin"] / 60, 2) for day in days]
    assert sleep["Sleep debt"] == [round(day["sleepDebtHours"], 2) for day in days]
    words = text_of(html)
    assert "ln rMSSD was recorded on 14 of 14 nights" in words
    assert f'href="{path}?from={start}&amp;to={today}" aria-current="true">Last 14 days' in html
    assert "Hidden:" not in words and "is-hidden" not in html

    bo_html = coach.get(f"/teams/{team.id}/athletes/{bo['id']}")
    bo_words = text_of(bo_html)
    assert "Hidden: Bo Sleep does not share Readiness with you, so it is not shown." in bo_words
    assert "Hidden: Bo Sleep does not share HRV with you, so it is not shown." in bo_words
    for chart in ("readiness-chart", "hrv-chart", "rhr-chart"):
        assert f'id="{chart}-data"' not in bo_html
    assert chart_data(bo_html, "sleep-chart")["series"][0]["values"][-1] is not None
    assert '<td class="is-hidden"><span class="cell-text">hidden</span></td>' in bo_html
    with harness.runtime.sessions() as session:
        audit = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor_id == team.coach["id"], AuditEntry.path.not_like(f"{API}/%"))
            .order_by(AuditEntry.id)
        ).all()
    assert [(e.subject_id, list(e.signals), e.path) for e in audit] == [
        (ada["id"], ["hrv", "sleep", "readiness"], path),
        (bo["id"], ["sleep"], f"/teams/{team.id}/athletes/{bo['id']}"),
    ]
    bad = coach.get(path, status=422, **{"from": "2026-03-01", "to": "2026-02-01"})
    assert "from (2026-03-01) is after to (2026-02-01)" in bad


# --- in a browser ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededTeam:
    id: int
    coach: WebUser
    athletes: dict[str, WebUser]  # by first name


BROWSER_TEAM = {
    "Ada Open": (ALL, Shape(sick=3, short=8, seed=11)),
    "Bo Sleep": (("sleep",), Shape(short=8, seed=12)),
    "Cy Private": ((), Shape(seed=13)),
    "Di Ready": (("readiness", "hrv"), Shape(seed=14)),
    "Ed Well": (ALL, Shape(seed=15)),
}


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> SeededTeam:
    """One team of five with 40 nights each, sharing differently, and its coach."""
    coach = live_server.user("coach", name="Casey Coach")
    athletes = {name: live_server.user(name=name) for name in BROWSER_TEAM}
    with session_scope(live_server.sessions) as session:
        coach_user = session.get(User, coach.id)
        assert coach_user is not None
        team = create_team(session, "Rowers", coach_user)
        users, shapes = [], {}
        for name, (shares, shape) in BROWSER_TEAM.items():
            user = session.get(User, athletes[name].id)
            assert user is not None
            join_team(session, team.id, user, set(shares))
            users.append(user)
            shapes[user.id] = shape
        write_history(session, users, 40, shapes)
        team_id = team.id
    return SeededTeam(team_id, coach, {name.split()[0]: user for name, user in athletes.items()})


def row_texts(page: Page) -> list[dict[str, str]]:
    """The team table as the browser shows it: each row's cells by column."""
    return list(
        page.eval_on_selector_all(
            "#team-table tbody tr",
            """rows => rows.map(row => Object.fromEntries(
                 [...row.querySelectorAll('[data-column]')].map(cell =>
                   [cell.dataset.column, cell.innerText.replace(/\\s+/g, ' ').trim()])))""",
        )
    )


def test_browser_an_athlete_turns_off_hrv_and_the_coach_sees_it_hidden_on_reload(
    live_server: LiveServer, page: Page, new_context: Callable[..., BrowserContext], seeded: SeededTeam
) -> None:
    coach_page = new_context().new_page()
    login(coach_page, live_server, seeded.coach)
    coach_page.goto(f"{live_server.url}/teams/{seeded.id}")
    ada_row = coach_page.locator("#team-table tbody tr", has_text="Ada Open")
    expect(ada_row.locator('[data-column="hrv"]')).not_to_have_text("hidden")
    check_accessibility(coach_page)
    screenshot(coach_page, "team-table")
    coach_page.set_viewport_size({"width": 390, "height": 844})
    # The table scrolls in its own box: the page itself stays as wide as the phone.
    assert coach_page.evaluate("document.documentElement.scrollWidth") == 390

    login(page, live_server, seeded.athletes["Ada"])
    page.goto(f"{live_server.url}/sharing")
    expect(page.get_by_role("button", name="Save what Rowers sees")).to_be_hidden()  # the switches save
    check_accessibility(page)
    screenshot(page, "sharing")
    page.get_by_label("HRV", exact=True).uncheck()
    expect(page.locator(f"#sharing-status-{seeded.id}")).to_have_text(
        "Saved. Rowers's coaches see Sleep, Readiness and Training."
    )

    coach_page.reload()
    hrv = ada_row.locator('[data-column="hrv"]')
    expect(hrv).to_have_text("hidden")
    expect(hrv).to_have_attribute(
        "aria-label", "HRV vs normal: hidden — Ada Open does not share HRV with you"
    )
    expect(ada_row.locator('[data-column="readiness"]')).not_to_have_text("hidden")

    # And back on: the next reload shows it again.
    page.get_by_label("HRV", exact=True).check()
    expect(page.locator(f"#sharing-status-{seeded.id}")).to_have_text(
        "Saved. Rowers's coaches see HRV, Sleep, Readiness and Training."
    )
    coach_page.reload()
    expect(hrv).not_to_have_text("hidden")


def test_browser_the_coach_filters_sorts_and_downloads_what_the_table_shows(
    live_server: LiveServer, page: Page, seeded: SeededTeam
) -> None:
    login(page, live_server, seeded.coach)
    page.goto(f"{live_server.url}/teams")
    check_accessibility(page)
    screenshot(page, "teams")
    page.get_by_role("link", name="Readiness table of Rowers").click()

    page.get_by_label("Name contains").fill("d")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"[?&]q=d(&|$)"))
    expect(page.locator("#table-summary")).to_have_text("Showing 3 of 5 athletes: name contains “d”.")
    heading = page.get_by_role("columnheader", name=re.compile("^Readiness"))
    heading.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=readiness"))
    expect(heading).to_have_attribute("aria-sort", "ascending")
    heading.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=-readiness"))
    expect(heading).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_label("Name contains")).to_have_value("d")  # the filter stayed

    shown = row_texts(page)
    assert [row["athlete"] for row in shown][-1] == "Ed Well" or len(shown) == 3
    assert {row["athlete"] for row in shown} == {"Ada Open", "Di Ready", "Ed Well"}
    scores = [int(row["readiness"].split()[0]) for row in shown]
    assert scores == sorted(scores, reverse=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert re.fullmatch(rf"team-{seeded.id}-\d{{4}}-\d{{2}}-\d{{2}}\.csv", download.suggested_filename)
    path = download.path()
    assert path is not None
    with open(path, encoding="utf-8") as file:
        records = list(csv.DictReader(file))
    assert [record["name"] for record in records] == [row["athlete"] for row in shown]
    for record, row in zip(records, shown, strict=True):
        if record["hidden"] and "readiness" in record["hidden"].split(";"):
            assert row["readiness"] == "hidden"
        else:
            assert row["readiness"] == f"{record['readiness']} {record['band'].capitalize()}"
        if "hrv" in record["hidden"].split(";"):
            assert row["hrv"] == "hidden" and record["lnRMSSD"] == ""
        else:
            assert f"ln rMSSD {float(record['lnRMSSD']):.2f}" in row["hrv"]
        if "sleep" in record["hidden"].split(";"):
            assert row["debt"] == "hidden"
        else:
            assert row["debt"].startswith(f"{float(record['sleepDebtHours']):.1f} h")


def test_browser_the_drill_in_draws_the_athletes_points(
    live_server: LiveServer, page: Page, seeded: SeededTeam
) -> None:
    login(page, live_server, seeded.coach)
    page.goto(f"{live_server.url}/teams/{seeded.id}")
    page.get_by_role("link", name="Ada Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Open")
    for chart in ("readiness-chart", "hrv-chart", "rhr-chart", "sleep-chart"):
        spec = json.loads(page.locator(f"#{chart}-data").text_content() or "null")
        values = spec["series"][spec["counted"]]["values"]
        expected = sum(value is not None for value in values)
        assert expected >= 25, chart  # 30 days shown, 40 nights of history
        expect(page.locator(f"#{chart}")).to_have_attribute("data-points", str(expected))
    expect(page.locator("#hrv-chart")).to_have_attribute("data-band-points", re.compile(r"^[1-9]\d*$"))
    check_accessibility(page)
    screenshot(page, "athlete-trend")

    page.goto(f"{live_server.url}/teams/{seeded.id}/athletes/{seeded.athletes['Bo'].id}")
    expect(page.locator("#hrv-hidden")).to_have_text(
        "Hidden: Bo Sleep does not share HRV with you, so it is not shown."
    )
    expect(page.locator("#sleep-chart")).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    screenshot(page, "athlete-trend-hidden")


def test_browser_access_log_and_account_pages_and_the_phone_navigation(
    live_server: LiveServer, page: Page, seeded: SeededTeam
) -> None:
    athlete = seeded.athletes["Ed"]
    login(page, live_server, athlete)
    page.goto(f"{live_server.url}/access-log")
    check_accessibility(page)
    screenshot(page, "access-log")
    page.goto(f"{live_server.url}/account")
    check_accessibility(page)
    screenshot(page, "account")
    # The athlete's navigation fits a 390 px phone in two rows.
    with at_each_size(page) as sized:
        rows = sized["phone"].eval_on_selector_all(
            'nav[aria-label="Main"] li', "items => new Set(items.map(item => item.offsetTop)).size"
        )
    assert rows <= 2, f"the navigation takes {rows} rows on a phone"
    page.get_by_label("To confirm, type your email").fill("not-me@example.org")
    page.get_by_role("button", name="Delete my account for good").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That is not your account's email, so nothing was deleted."
    )
    check_accessibility(page)
