"""The athlete's pages (#13): sharing per team and per signal (obeyed by the coach's very next
request), invitations accepted choosing what to share or declined, leaving a team, the access
log in the athlete's time zone and paged, the export download, and deleting the account (the
typed email and the form's token required). Plus the navigation that leads to them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from tests.conftest import Harness
from tests.web.coachkit import ALL, API, Browser, can_sign_in, team_table, team_with_history, text_of
from tests.web.signin import HTML

from perfhub.auth.models import User, WebSession
from perfhub.privacy.models import AuditEntry
from perfhub.teams.models import TeamMembership
from perfhub.web.routes.access_log import MAX_TRAIL, paging, parse_trail
from perfhub.web.security import SESSION_COOKIE

pytestmark = pytest.mark.backends("sqlite")


def membership(harness: Harness, team_id: int, athlete_id: int) -> dict[str, bool] | None:
    with harness.runtime.sessions() as session:
        found = session.scalar(
            select(TeamMembership).where(
                TeamMembership.team_id == team_id, TeamMembership.athlete_id == athlete_id
            )
        )
        return None if found is None else found.sharing()


def checked(html: str, element_id: str) -> bool:
    found = re.search(rf'<input type="checkbox" id="{element_id}"[^>]*>', html)
    assert found is not None, f"no checkbox #{element_id}"
    return " checked" in found.group(0)


# --- sharing ---------------------------------------------------------------------------------


def test_the_sharing_page_shows_each_team_with_its_switches(harness: Harness) -> None:
    team = team_with_history(harness, [("hrv", "sleep")], names=["Ada"], signing_in=[0], with_history=[False])
    ada = Browser(harness, team.athletes[0]["email"])
    html = ada.get("/sharing")
    prefix = f"share-{team.id}"
    assert [checked(html, f"{prefix}-{signal}") for signal in ALL] == [True, True, False, False]
    words = text_of(html)
    assert "Squad Coached by" in words and "What Squad's coaches see" in words
    assert "HRV HRV and resting heart rate, night by night, against your normal range." in words
    assert "Leave Squad…" in words and "Yes, leave Squad" in words

    lonely = harness.user("athlete")
    can_sign_in(harness, lonely["id"])
    words = text_of(Browser(harness, lonely["email"]).get("/sharing"))
    assert f"You are in no team. When a coach invites you (they need your email, {lonely['email']})" in words
    coach = Browser(harness, team.coach["email"])
    assert "This page is for athletes" in coach.get("/sharing", status=403)


def test_a_switch_is_obeyed_by_the_coachs_very_next_request(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada Open"], signing_in=[0])
    athlete_id = team.athletes[0]["id"]
    ada = Browser(harness, team.athletes[0]["email"])
    coach = Browser(harness, team.coach["email"])
    _, (row,) = team_table(coach.get(f"/teams/{team.id}"))
    assert row.texts["hrv"] != "hidden" and row.texts["readiness"] != "hidden"

    # The plain form: every box of the team is sent; HRV and readiness are left unticked.
    saved = ada.post(f"/sharing/{team.id}", {"sleep": "on", "training": "on"}, from_page="/sharing")
    assert (
        saved.status_code == 303 and saved.headers["location"] == f"/sharing?saved={team.id}#team-{team.id}"
    )
    assert membership(harness, team.id, athlete_id) == {
        "hrv": False,
        "sleep": True,
        "readiness": False,
        "training": True,
    }
    _, (row,) = team_table(coach.get(f"/teams/{team.id}"))
    assert row.texts["hrv"] == row.texts["readiness"] == "hidden" and row.texts["debt"] != "hidden"
    drill = coach.get(f"/teams/{team.id}/athletes/{athlete_id}")
    assert 'id="hrv-chart-data"' not in drill and "Ada Open does not share HRV with you" in drill
    words = text_of(ada.get(f"/sharing?saved={team.id}"))
    assert "Saved. Squad's coaches see Sleep and Training." in words

    # htmx posts the same form and gets the confirmation in words for the status region.
    token = ada.csrf("/sharing")
    answer = ada.client.post(
        f"/sharing/{team.id}", data={"hrv": "on"}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert answer.status_code == 200 and answer.text == "Saved. Squad&#x27;s coaches see HRV."
    _, (row,) = team_table(coach.get(f"/teams/{team.id}"))
    assert row.texts["hrv"] != "hidden" and row.texts["debt"] == "hidden"
    with harness.runtime.sessions() as session:
        last = session.scalars(
            select(AuditEntry).where(AuditEntry.actor_id == team.coach["id"]).order_by(AuditEntry.id.desc())
        ).first()
    assert last is not None and list(last.signals) == ["hrv"]


def test_sharing_refuses_forged_posts_and_teams_one_is_not_in(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada"], signing_in=[0], with_history=[False])
    other = team_with_history(harness, [ALL], names=["Zed"], with_history=[False])
    ada = Browser(harness, team.athletes[0]["email"])
    forged = ada.client.post(f"/sharing/{team.id}", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403 and "This form was refused" in forged.text
    assert membership(harness, team.id, team.athletes[0]["id"]) == dict.fromkeys(ALL, True)
    stranger = ada.post(f"/sharing/{other.id}", {"hrv": "on"}, from_page="/sharing")
    assert stranger.status_code == 404
    odd = ada.post(f"/sharing/{team.id}", {"hrv": "yes please"}, from_page="/sharing")
    assert odd.status_code == 422
    assert membership(harness, team.id, team.athletes[0]["id"]) == dict.fromkeys(ALL, True)


# --- invitations and leaving -----------------------------------------------------------------


def test_an_invitation_is_accepted_choosing_signals_with_nothing_ticked_first(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada"], with_history=[False])
    newcomer = harness.user("athlete", email="newcomer@example.org")
    can_sign_in(harness, newcomer["id"])
    for email in ("newcomer@example.org",):
        answer = harness.client.post(
            f"{API}/teams/{team.id}/invitations", json={"email": email}, headers=team.coach["headers"]
        )
        assert answer.status_code == 201
    invitation_id = answer.json()["id"]
    browser = Browser(harness, newcomer["email"])
    html = browser.get("/sharing")
    words = text_of(html)
    assert (
        "Invitations Squad Coached by" in words and "Nothing is ticked: tick what you want to share." in words
    )
    expires = datetime.now(UTC) + timedelta(days=14)  # the athlete's zone is UTC
    assert f"Open until {expires.day} {expires:%B} {expires.year}." in words
    assert not any(checked(html, f"invite-{invitation_id}-{signal}") for signal in ALL)

    joined = browser.post(f"/invitations/{invitation_id}/accept", {"hrv": "on"}, from_page="/sharing")
    assert joined.status_code == 303 and joined.headers["location"] == f"/sharing?done=joined#team-{team.id}"
    assert membership(harness, team.id, newcomer["id"]) == {
        "hrv": True,
        "sleep": False,
        "readiness": False,
        "training": False,
    }
    html = browser.get("/sharing?done=joined")
    assert "You joined the team." in text_of(html) and "Invitations" not in text_of(html)
    assert checked(html, f"share-{team.id}-hrv") and not checked(html, f"share-{team.id}-sleep")


def test_declining_and_leaving(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada Open"], signing_in=[0], with_history=[False])
    other = team_with_history(harness, [ALL], names=["Zed"], with_history=[False])
    ada_id = team.athletes[0]["id"]
    answer = harness.client.post(
        f"{API}/teams/{other.id}/invitations",
        json={"email": team.athletes[0]["email"]},
        headers=other.coach["headers"],
    )
    ada = Browser(harness, team.athletes[0]["email"])
    declined = ada.post(f"/invitations/{answer.json()['id']}/decline", {}, from_page="/sharing")
    assert declined.status_code == 303 and membership(harness, other.id, ada_id) is None
    assert "You declined the invitation." in text_of(ada.get("/sharing?done=declined"))

    left = ada.post(f"/sharing/{team.id}/leave", {}, from_page="/sharing")
    assert left.status_code == 303 and left.headers["location"] == "/sharing?done=left"
    assert membership(harness, team.id, ada_id) is None
    coach = Browser(harness, team.coach["email"])
    assert team_table(coach.get(f"/teams/{team.id}"))[1] == []
    assert coach.get(f"/teams/{team.id}/athletes/{ada_id}", status=404)


# --- the access log --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "shown"),
    [("Pacific/Kiritimati", "Wed 11 Mar 2026, 09:15"), ("Etc/GMT+12", "Tue 10 Mar 2026, 07:15")],
    ids=["UTC+14", "UTC-12"],
)
def test_the_access_log_shows_who_read_what_when_in_the_athletes_zone(
    harness: Harness, tz: str, shown: str
) -> None:
    team = team_with_history(
        harness, [("sleep",)], names=["Ada"], tzs=[tz], signing_in=[0], with_history=[False]
    )
    ada_id = team.athletes[0]["id"]
    with harness.runtime.sessions() as session:
        coach = session.get(User, team.coach["id"])
        assert coach is not None
        coach.name = "Casey Coach"
        session.commit()
    with time_machine.travel(datetime(2026, 3, 10, 19, 15, tzinfo=UTC), tick=False):
        Browser(harness, team.coach["email"]).get(f"/teams/{team.id}")
    ada = Browser(harness, team.athletes[0]["email"])
    html = ada.get("/access-log")
    words = text_of(html)
    assert f"Casey Coach (coach) {shown} Saw Sleep Where Your team's readiness page /teams/{team.id}" in words
    assert "Pacific" in words or "Etc/GMT+12" in words
    with harness.runtime.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.subject_id == ada_id)
            )
            == 1
        )
    # The coach's own data was read by no one: their log is empty.
    assert "Nobody else has looked at your data yet." in text_of(
        Browser(harness, team.coach["email"]).get("/access-log")
    )


def test_the_access_log_pages_older_and_back_to_newer(harness: Harness) -> None:
    athlete = harness.user("athlete")
    coach = harness.user("coach")
    can_sign_in(harness, athlete["id"])
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    with harness.runtime.sessions() as session:
        session.add_all(
            AuditEntry(
                at=start + timedelta(hours=k),
                actor_id=coach["id"],
                actor_role="coach",
                subject_id=athlete["id"],
                signals=["hrv"],
                path="/api/v1/hrv/daily" if k % 2 else "/hrv",
            )
            for k in range(60)
        )
        session.commit()
    browser = Browser(harness, athlete["email"])
    first = browser.get("/access-log")
    assert first.count('<li class="read">') == 25  # newest first
    assert "Thu 1 Jan 2026, 08:00" not in first and "Sat 3 Jan 2026, 19:00" in first
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older is not None and 'rel="prev"' not in first
    second = browser.get(older.group(1).replace("&amp;", "&"))
    assert second.count('<li class="read">') == 25 and "Earlier looks at your data" in second
    third_href = re.search(r'href="([^"]+)" rel="next"', second)
    assert third_href is not None
    third = browser.get(third_href.group(1).replace("&amp;", "&"))
    assert third.count('<li class="read">') == 10 and "Thu 1 Jan 2026, 08:00" in third
    assert 'rel="next"' not in third
    back = re.search(r'href="([^"]+)" rel="prev"', third)
    assert back is not None
    assert text_of(browser.get(back.group(1).replace("&amp;", "&"))) == text_of(second)
    newest = re.search(r'href="([^"]+)" rel="prev"', second)
    assert newest is not None and newest.group(1) == "/access-log"
    assert "Saw HRV Where Your HRV page /hrv" in text_of(first)
    assert browser.get("/access-log?trail=1,x", status=422)


def test_paging_links_remember_the_way_back() -> None:
    assert paging(None, [], last_id=90, has_older=True).older == "/access-log?before=90&trail=0"
    assert paging(None, [], last_id=90, has_older=True).newer is None
    second = paging(90, [0], last_id=60, has_older=True)
    assert second.older == "/access-log?before=60&trail=0%2C90" and second.newer == "/access-log"
    third = paging(60, [0, 90], last_id=30, has_older=False)
    assert third.older is None and third.newer == "/access-log?before=90&trail=0"
    # Deep down, the URL keeps the last MAX_TRAIL pages; past them "Newer" is the newest page.
    deep = paging(5, list(range(1, MAX_TRAIL + 1)), last_id=4, has_older=True)
    assert deep.older is not None and deep.older.count("%2C") == MAX_TRAIL - 1
    assert paging(5, [], last_id=4, has_older=False).newer == "/access-log"
    assert parse_trail("0,12,7") == [0, 12, 7] and parse_trail(None) == []


# --- the account: export and erasure ---------------------------------------------------------


def test_the_export_downloads_the_callers_own_data(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada Open"], signing_in=[0])
    ada = Browser(harness, team.athletes[0]["email"])
    html = ada.get("/account")
    assert 'href="/account/export" download' in html
    download = ada.client.get("/account/export")
    assert download.status_code == 200 and download.headers["content-type"] == "application/json"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="perfhub-export-{team.athletes[0]["id"]}.json"'
    )
    document = json.loads(download.content)
    assert document["profile"]["email"] == team.athletes[0]["email"]
    api = harness.client.get(f"{API}/me/export", headers=team.athletes[0]["headers"]).json()
    assert document.keys() == api.keys()
    assert len(document["hrvDays"]) == len(api["hrvDays"]) == 40
    assert document["teamMemberships"][0]["teamName"] == "Squad"


def test_deleting_the_account_needs_the_typed_email_and_the_forms_token(harness: Harness) -> None:
    team = team_with_history(harness, [ALL], names=["Ada Open"], signing_in=[0])
    athlete = team.athletes[0]
    ada = Browser(harness, athlete["email"])

    def exists() -> bool:
        with harness.runtime.sessions() as session:
            return session.get(User, athlete["id"]) is not None

    wrong = ada.post("/account/delete", {"email": "someone@else.org"}, from_page="/account")
    assert (
        wrong.status_code == 422
        and "That is not your account&#39;s email, so nothing was deleted." in wrong.text
    )
    assert 'value="someone@else.org"' in wrong.text and 'aria-invalid="true"' in wrong.text
    empty = ada.post("/account/delete", {"email": ""}, from_page="/account")
    assert empty.status_code == 422 and "Type your email to confirm." in empty.text
    forged = ada.client.post("/account/delete", data={"email": athlete["email"]})
    assert forged.status_code == 403
    other_site = ada.client.post(
        "/account/delete",
        data={"email": athlete["email"], "csrf_token": ada.csrf("/account")},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert other_site.status_code == 403
    assert exists()

    done = ada.post("/account/delete", {"email": athlete["email"].upper()}, from_page="/account")
    assert done.status_code == 303 and done.headers["location"] == "/account/deleted"
    assert f'{SESSION_COOKIE}=""' in done.headers["set-cookie"]
    assert not exists()
    with harness.runtime.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(WebSession).where(WebSession.user_id == athlete["id"])
            )
            == 0
        )
        erasure = session.scalar(select(AuditEntry).where(AuditEntry.subject_id == athlete["id"]))
    assert erasure is not None and erasure.kind == "erasure" and erasure.path == "/account/delete"
    page = ada.client.get("/account/deleted")
    assert page.status_code == 200 and "Your account is deleted" in page.text
    assert ada.client.get("/today").status_code == 303  # signed out: to the login form
    # The team's coach no longer sees the athlete.
    assert team_table(Browser(harness, team.coach["email"]).get(f"/teams/{team.id}"))[1] == []


def test_the_deleted_page_names_only_known_vendors_and_sends_the_signed_in_home(harness: Harness) -> None:
    words = text_of(harness.client.get("/account/deleted?vendor=oura&vendor=<b>evil</b>", headers=HTML).text)
    assert "Oura could not be reached to revoke perfhub's access." in words and "evil" not in words
    athlete = harness.user("athlete")
    can_sign_in(harness, athlete["id"])
    signed_in = Browser(harness, athlete["email"]).client.get("/account/deleted")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account"


# --- navigation ------------------------------------------------------------------------------


def test_each_role_finds_the_new_pages_in_the_navigation(harness: Harness) -> None:
    expected = {
        "athlete": [
            "Today",
            "Plan",
            "Sleep",
            "HRV",
            "Nudges",
            "Connections",
            "Sharing",
            "Profile",
            "Account",
        ],
        "coach": ["Teams", "Profile", "Account"],
        "admin": ["Overview", "Teams", "Profile", "Account"],
    }
    for role, labels in expected.items():
        person = harness.user(role)
        can_sign_in(harness, person["id"])
        html = Browser(harness, person["email"]).get("/account")
        nav = html.split('<nav aria-label="Main">')[1].split("</nav>")[0]
        assert re.findall(r'">([^<]+)</a>', nav) == labels, role
        assert '<a href="/account" aria-current="page">Account</a>' in nav
        if role == "athlete":
            # The access log is the second tab of Sharing.
            log = Browser(harness, person["email"]).get("/access-log")
            assert '<a href="/access-log" aria-current="page">Who looked: access log</a>' in log
            assert '<a href="/sharing">Who sees what</a>' in log
