"""The athlete's today page (#12): the readiness gauge, drivers and contributors, and each reason
there may be no score, in words.

Nights come from the demo's synthetic generator and go in through the ingest service
(``accept_reading``) and the embedded pipeline (normalize, then readiness), as a wearable's
would; nothing writes canonical rows or snapshots by hand. The page must say what
``GET /api/v1/readiness/today`` answers the same person, so most checks compare the two. The
clock is frozen where the date matters. The browser tests at the end share one live server and
seed one athlete per state.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import Harness
from tests.web.browser import LiveServer, WebUser, check_accessibility, login, screenshot
from tests.web.signin import HTML, sign_in, with_password

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.demo.synthetic import generate_nights, make_profiles, to_ingest_payloads
from perfhub.privacy.models import AuditEntry
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_reading
from perfhub.teams.service import create_team, join_team
from perfhub.web.routes.today import arc_path

pytestmark = pytest.mark.backends("sqlite")

# Mid-afternoon in Oslo: every synthetic morning capture of the day is over.
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
OSLO = "Europe/Oslo"


# --- helpers ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Seeded:
    """What went in: the wake dates with HRV and with sleep."""

    hrv: list[date]
    sleep: list[date]

    @property
    def last(self) -> date:
        return max(self.hrv + self.sleep)


def seed_nights(
    sessions: sessionmaker[Session],
    drain: Callable[[], None],
    user_id: int,
    tz: str,
    nights: int,
    end: date,
    *,
    now: datetime | None = None,
    seed: int = 3,
) -> Seeded:
    """``nights`` synthetic mornings ending on ``end`` through the ingest service, then the pipeline.

    Mornings still ahead at ``now`` are left out, as a device cannot have sent them yet.
    """
    now = now or datetime.now(UTC)
    profile = dataclasses.replace(make_profiles(1, seed=seed)[0], tz=tz)
    hrv, sleep = generate_nights(profile, nights, end, seed=seed)
    hrv = [night for night in hrv if night.captured_at <= now]
    sleep = [night for night in sleep if night.captured_at <= now]
    with session_scope(sessions) as session:
        for kind, body in to_ingest_payloads(user_id, hrv, sleep):
            accept_reading(session, (HrvIn if kind == "hrv" else SleepIn).model_validate(body))
    drain()
    return Seeded([night.date for night in hrv], [night.date for night in sleep])


def seed(harness: Harness, person: dict[str, Any], tz: str, nights: int, end: date, **kw: Any) -> Seeded:
    return seed_nights(harness.runtime.sessions, harness.drain, person["id"], tz, nights, end, **kw)


def local_today(tz: str, now: datetime = NOW) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def text_of(html: str) -> str:
    """The page's words, tags removed and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def today_page(client: TestClient, path: str = "/today", status: int = 200) -> str:
    answer = client.get(path, headers=HTML, follow_redirects=False)
    assert answer.status_code == status, answer.text[:2000]
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def api_today(harness: Harness, headers: dict[str, str], user_id: int | None = None) -> Any:
    query = f"?userId={user_id}" if user_id else ""
    return harness.client.get(f"/api/v1/readiness/today{query}", headers=headers)


def signed_in_client(harness: Harness, email: str) -> TestClient:
    """A browser of its own (cookie jar) on the same app, signed in as ``email``."""
    client = TestClient(harness.client.app)
    assert sign_in(client, email).status_code == 303
    return client


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


# --- the gauge -------------------------------------------------------------------------------


def test_gauge_arc_is_proportional_to_the_score() -> None:
    assert arc_path(0) == ""
    # 240° from the lower left over the top: half of it ends at the top of the circle, all of it
    # at the lower right, and only the arcs beyond half a circle take the large-arc flag.
    assert arc_path(0.5) == "M 30.72 140.00 A 80 80 0 0 1 100.00 20.00"
    assert arc_path(1.0) == "M 30.72 140.00 A 80 80 0 1 1 169.28 140.00"
    assert arc_path(0.25).endswith("A 80 80 0 0 1 30.72 60.00")
    assert arc_path(1.7) == arc_path(1.0)


# --- a score ---------------------------------------------------------------------------------


def test_full_score_shows_the_gauge_band_drivers_and_contributors(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz=OSLO)
    today = local_today(OSLO)
    seed(harness, athlete, OSLO, 90, today, now=NOW)
    sign_in(harness.client, athlete["email"])

    html = today_page(harness.client)
    api = api_today(harness, athlete["headers"]).json()
    assert api["status"] == "full" and api["stale"] is False and api["date"] == today.isoformat()
    score, band = api["readiness"], api["band"]
    words = text_of(html)

    assert f'role="img" aria-label="Readiness {score} of 100, {band}"' in html
    assert f'class="gauge-value band-{band}" d="{arc_path(score / 100)}"' in html
    assert f"Readiness {score} of 100: {band.capitalize()}" in words
    assert f"Today {long_day(today)}" in words
    for sentence in api["drivers"]:
        assert sentence + "." in words
    assert len(api["drivers"]) >= 1
    rows = re.findall(
        r'<th scope="row">([^<]+)</th>\s*<td>\s*<span class="component-score">(\d+) of 100', html
    )
    assert [int(found) for _, found in rows] == [round(c["score"]) for c in api["components"]]
    for component in api["components"]:
        assert f"{round(component['weight'] * 100)}%" in words
    assert any(name.startswith("HRV balance") for name, _ in rows)
    assert "Full: at least 60 nights of HRV stand behind the baseline" in words
    assert "Last night's data is missing" not in words and "Old data" not in words


def test_a_stale_score_says_how_old_its_data_is(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz=OSLO)
    today = local_today(OSLO)
    seed(harness, athlete, OSLO, 70, today - timedelta(days=3), now=NOW)
    sign_in(harness.client, athlete["email"])

    words = text_of(today_page(harness.client))
    api = api_today(harness, athlete["headers"]).json()
    assert api["stale"] is True and api["date"] == today.isoformat()
    assert f"Readiness {api['readiness']} of 100" in words
    assert "Last night's data is missing" in words
    assert "The newest HRV or resting heart rate reading is 3 days old." in words
    assert "Readiness leaves last night's HRV out rather than guess it" in words
    assert "Flags" in words and "Old data" in words
    assert "No HRV reading for last night (latest 3 days ago); scored without it, on your 7-day" in words
    assert 'href="/connections"' in today_page(harness.client)


# --- no score --------------------------------------------------------------------------------


def test_calibrating_counts_the_nights_so_far(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz=OSLO)
    today = local_today(OSLO)
    seeded = seed(harness, athlete, OSLO, 3, today, now=NOW)
    nights = len(seeded.hrv)
    assert 1 <= nights <= 3
    sign_in(harness.client, athlete["email"])

    html = today_page(harness.client)
    words = text_of(html)
    api = api_today(harness, athlete["headers"])
    assert api.status_code == 404 and api.json()["reason"] == "calibrating"
    assert 'data-reason="calibrating"' in html
    assert "Calibrating your baseline" in words
    assert "it needs at least 4 nights of HRV first" in words
    plural = "s" if nights != 1 else ""
    assert f"So far: {nights} night{plural} of HRV, {4 - nights} more to go." in words
    assert "Wear your device to bed each night" in words
    assert '<a href="/connections">Connect a wearable</a>' in html
    assert "gauge" not in html


def test_no_data_sends_the_athlete_to_connections(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz=OSLO)
    sign_in(harness.client, athlete["email"])

    html = today_page(harness.client)
    words = text_of(html)
    assert api_today(harness, athlete["headers"]).json()["reason"] == "no_data"
    assert 'data-reason="no_data"' in html
    assert "No data yet" in words
    assert "perfhub has no HRV, resting heart rate or sleep data for you yet" in words
    assert "Connect a wearable (Oura, WHOOP or Google Health) or upload an Apple Health export" in words
    assert '<a href="/connections">Connections</a>' in html
    assert f"Today {long_day(local_today(OSLO))}" in words


def test_no_recent_data_names_the_last_day_with_data(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz=OSLO)
    today = local_today(OSLO)
    seeded = seed(harness, athlete, OSLO, 30, today - timedelta(days=10), now=NOW)
    sign_in(harness.client, athlete["email"])

    html = today_page(harness.client)
    words = text_of(html)
    assert api_today(harness, athlete["headers"]).json()["reason"] == "no_recent_data"
    assert 'data-reason="no_recent_data"' in html
    assert "No recent data" in words
    assert "no HRV, resting heart rate or sleep data has arrived for more than 7 days" in words
    assert f"The most recent data is from {long_day(seeded.last)}." in words
    assert "relink the wearable on Connections" in words


# --- the athlete's own calendar --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "local_date"),
    [("Pacific/Kiritimati", date(2026, 3, 11)), ("Etc/GMT+12", date(2026, 3, 10))],
    ids=["utc+14", "utc-12"],
)
def test_today_is_the_athletes_local_date_across_midnight_utc(
    harness: Harness, tz: str, local_date: date
) -> None:
    before, after = datetime(2026, 3, 10, 23, 59, 30, tzinfo=UTC), datetime(2026, 3, 11, 0, 0, 30, tzinfo=UTC)
    assert local_today(tz, before) == local_today(tz, after) == local_date
    athlete = with_password(harness, tz=tz)
    with time_machine.travel(before, tick=False):
        seed(harness, athlete, tz, 80, local_date, now=before)
        sign_in(harness.client, athlete["email"])
        words_before = text_of(today_page(harness.client))
    with time_machine.travel(after, tick=False):
        words_after = text_of(today_page(harness.client))
        api = api_today(harness, athlete["headers"]).json()
    assert api["date"] == local_date.isoformat() and api["stale"] is False
    for words in (words_before, words_after):
        assert f"Today {long_day(local_date)} Readiness" in words
        assert f"Readiness {api['readiness']} of 100" in words
        assert "Last night's data is missing" not in words


# --- who may look ----------------------------------------------------------------------------


def _coach_of(harness: Harness, athlete: dict[str, Any], share: set[str]) -> dict[str, Any]:
    coach = with_password(harness, role="coach")
    with session_scope(harness.runtime.sessions) as session:
        coach_user, athlete_user = session.get(User, coach["id"]), session.get(User, athlete["id"])
        assert coach_user is not None and athlete_user is not None
        team = create_team(session, "Rowing", coach_user)
        join_team(session, team.id, athlete_user, share)
    return coach


def test_a_coach_the_athlete_shares_nothing_with_gets_the_403_page(harness: Harness, frozen: None) -> None:
    athlete = with_password(harness, tz=OSLO)
    seed(harness, athlete, OSLO, 30, local_today(OSLO), now=NOW)
    coach = _coach_of(harness, athlete, set())
    client = signed_in_client(harness, coach["email"])

    html = today_page(client, f"/today?userId={athlete['id']}", status=403)
    words = text_of(html)
    assert "You cannot do that here" in words
    assert f"athlete {athlete['id']} does not share readiness with you" in words
    assert "gauge" not in html
    # Their own today page is not a coach's either.
    assert "shows an athlete's readiness" in text_of(today_page(client, status=403))


def test_a_coach_with_readiness_only_sees_the_score_and_words_without_numbers(
    harness: Harness, frozen: None
) -> None:
    athlete = with_password(harness, tz=OSLO)
    seed(harness, athlete, OSLO, 90, local_today(OSLO), now=NOW)
    coach = _coach_of(harness, athlete, {"readiness"})
    client = signed_in_client(harness, coach["email"])

    html = today_page(client, f"/today?userId={athlete['id']}")
    words = text_of(html)
    api = api_today(harness, coach["headers"], athlete["id"]).json()
    assert api["components"] == [] and api["hidden"] == ["hrv", "sleep", "training"]
    assert f"Readiness {api['readiness']} of 100" in words
    for sentence in api["drivers"]:
        assert sentence + "." in words
    assert "No contributor scores to show." in words
    assert "does not share HRV, sleep, training with you" in words
    assert not re.search(r"ln rMSSD \d", words)  # no HRV numbers in the drivers
    with harness.runtime.sessions() as session:
        paths = session.scalars(
            select(AuditEntry.path).where(
                AuditEntry.actor_id == coach["id"], AuditEntry.subject_id == athlete["id"]
            )
        ).all()
    assert "/today" in paths


def test_signed_out_goes_to_the_login_form_and_back(harness: Harness) -> None:
    answer = harness.client.get("/today", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + quote("/today", safe="")
    assert answer.headers["location"] == "/login?next=%2Ftoday"


# --- in a browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def states(live_server: LiveServer) -> dict[str, tuple[WebUser, Seeded | None]]:
    """One athlete per state of the page, seeded once for the module."""
    now = datetime.now(UTC)
    people: dict[str, tuple[WebUser, Seeded | None]] = {}
    for state, nights, back in (("full", 90, 0), ("stale", 70, 3), ("calibrating", 3, 0), ("no-data", 0, 0)):
        person = live_server.user(tz=OSLO, name=f"Today {state}")
        seeded = None
        if nights:
            end = local_today(OSLO, now) - timedelta(days=back)
            seeded = seed_nights(
                live_server.sessions, live_server.runtime.bus.drain, person.id, OSLO, nights, end, now=now
            )
        people[state] = (person, seeded)
    return people


def open_today(page: Page, live_server: LiveServer, person: WebUser) -> None:
    login(page, live_server, person)
    page.goto(live_server.url + "/today")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")


def test_browser_full_score(
    page: Page, live_server: LiveServer, states: dict[str, tuple[WebUser, Seeded | None]]
) -> None:
    open_today(page, live_server, states["full"][0])
    gauge = page.get_by_role("img", name=re.compile(r"^Readiness \d+ of 100, (low|reduced|normal|elevated)$"))
    expect(gauge).to_be_visible()
    expect(page.locator("#band")).to_have_text(re.compile("^(Low|Reduced|Normal|Elevated)$"))
    expect(page.locator("#drivers li").first).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("HRV balance")
    expect(page.locator("#status")).to_contain_text("Full")
    check_accessibility(page)
    screenshot(page, "today-full")


def test_browser_stale_score(
    page: Page, live_server: LiveServer, states: dict[str, tuple[WebUser, Seeded | None]]
) -> None:
    open_today(page, live_server, states["stale"][0])
    expect(page.get_by_role("img", name=re.compile(r"^Readiness \d+ of 100"))).to_be_visible()
    expect(page.get_by_role("heading", name="Last night's data is missing")).to_be_visible()
    expect(page.locator("#stale")).to_contain_text("days old")
    expect(page.locator("#flags")).to_contain_text("Old data")
    check_accessibility(page)
    screenshot(page, "today-stale")


def test_browser_calibrating(
    page: Page, live_server: LiveServer, states: dict[str, tuple[WebUser, Seeded | None]]
) -> None:
    person, seeded = states["calibrating"]
    assert seeded is not None
    open_today(page, live_server, person)
    expect(page.get_by_role("heading", name="Calibrating your baseline")).to_be_visible()
    nights = len(seeded.hrv)
    expect(page.locator("#nights")).to_contain_text(f"So far: {nights} night")
    expect(page.get_by_role("link", name="Connect a wearable")).to_have_attribute("href", "/connections")
    check_accessibility(page)
    screenshot(page, "today-calibrating")


def test_browser_no_data(
    page: Page, live_server: LiveServer, states: dict[str, tuple[WebUser, Seeded | None]]
) -> None:
    open_today(page, live_server, states["no-data"][0])
    expect(page.get_by_role("heading", name="No data yet")).to_be_visible()
    expect(page.locator("#missing")).to_contain_text("upload an Apple Health export")
    expect(page.locator("#missing").get_by_role("link", name="Connections")).to_have_attribute(
        "href", "/connections"
    )
    check_accessibility(page)
    screenshot(page, "today-no-data")
