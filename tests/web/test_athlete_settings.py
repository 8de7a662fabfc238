"""The settings pages without a browser: nudges, profile, connections (with the Apple Health
upload), teams and the admin overview, through FastAPI's TestClient as a browser would use them
(session cookie, CSRF token from the page, forms posted and redirects looked at)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from tests.fakes.oura import FakeOura
from tests.wearables.apple_export import ExportSpec, export_document, write_export_xml
from tests.wearables.conftest import consent, running_vendor_app

from perfhub.alerts.models import Alert, AlertPreference
from perfhub.alerts.service import preferences
from perfhub.app import create_app
from perfhub.auth.models import User, WebSession
from perfhub.auth.passwords import set_password
from perfhub.auth.service import create_user
from perfhub.core.db import session_scope
from perfhub.core.outbox import DeadLetter
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily
from perfhub.settings import Settings
from perfhub.teams.service import create_team, join_team
from perfhub.wearables.models import OAuthState, VendorConnection
from perfhub.web.security import SESSION_COOKIE

pytestmark = pytest.mark.backends("sqlite")

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
OURA_AUTHORIZE = "https://cloud.ouraring.example/oauth/authorize"
NOW = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


@dataclass
class Person:
    id: int
    email: str
    token: str  # API token, to check the pages against the API

    @property
    def api(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Browser:
    """One browser: its own cookie jar, signing in and posting forms as the pages do."""

    def __init__(self, app: FastAPI) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.client.headers["Accept"] = "text/html,application/xhtml+xml"

    def sign_in(self, person: Person, password: str = PASSWORD) -> None:
        form = self.client.get("/login")
        answer = self.client.post(
            "/login", data={"email": person.email, "password": password, "csrf_token": token_in(form.text)}
        )
        assert answer.status_code == 303, answer.text

    def page(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.text

    def csrf(self, path: str) -> str:
        return token_in(self.page(path))

    def post(self, path: str, data: dict[str, Any], *, from_page: str, **kwargs: Any) -> Any:
        return self.client.post(path, data={**data, "csrf_token": self.csrf(from_page)}, **kwargs)


def token_in(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def text_of(html: str) -> str:
    """The page's words, tags removed and spaces collapsed, for asserting on sentences."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings, run_workers=False)
    with TestClient(app):  # runs the lifespan once; each Browser is a client of its own
        yield app


def make_person(
    app: FastAPI, role: str = "athlete", tz: str = "UTC", name: str = "", *, password: bool = True
) -> Person:
    with session_scope(app.state.sessions) as session:
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        user, token = create_user(session, email, role, name=name, tz=tz)
        if password:  # argon2 costs a fifth of a second: only for people who sign in
            set_password(session, user, PASSWORD)
        return Person(user.id, user.email, token)


def signed_in(app: FastAPI, person: Person) -> Browser:
    browser = Browser(app)
    browser.sign_in(person)
    return browser


# --- nudges ----------------------------------------------------------------------------------


def test_nudges_in_words_and_the_switch_persists(app: FastAPI) -> None:
    athlete = make_person(app)
    with session_scope(app.state.sessions) as session:
        session.add(
            Alert(
                user_id=athlete.id,
                kind="sleep_debt",
                date=date(2026, 11, 24),
                severity="critical",
                message="Sleep debt 9.5 h (high) over the last 14 nights.",
            )
        )
    browser = signed_in(app, athlete)
    page = browser.page("/nudges")
    words = text_of(page)
    assert "Sleep debt High Tuesday 24 November 2026" in words
    assert "Sleep debt 9.5 h (high) over the last 14 nights." in words
    assert re.search(r'id="sleep-debt"[^>]*checked', page), "on by default, as the API says"
    assert 'role="status"' in page and "X-CSRF-Token" in page  # htmx sends the token as a header

    # Without JavaScript: the form posts, the browser is sent back, the page says what changed.
    off = browser.post("/nudges/preferences", {}, from_page="/nudges")
    assert off.status_code == 303 and off.headers["location"] == "/nudges?saved=true"
    after = browser.page("/nudges?saved=true")
    assert "Sleep-debt nudges are off" in text_of(after)
    assert not re.search(r'id="sleep-debt"[^>]*checked', after)
    api = browser.client.get("/api/v1/alerts/preferences", headers=athlete.api)
    assert api.json() == {"sleepDebt": False}  # the page and the API share the setting

    # With htmx: the token in the header, and the answer is the status line to swap in.
    on = browser.client.post(
        "/nudges/preferences",
        data={"sleep_debt": "on"},
        headers={"X-CSRF-Token": browser.csrf("/nudges"), "HX-Request": "true"},
    )
    assert on.status_code == 200
    assert on.text.startswith("Saved. Sleep-debt nudges are on")
    assert on.headers["content-security-policy"].startswith("default-src 'self'")
    with app.state.sessions() as session:
        assert preferences(session, athlete.id).sleep_debt is True


def test_a_forged_nudge_post_is_refused_and_changes_nothing(app: FastAPI) -> None:
    athlete = make_person(app)
    browser = signed_in(app, athlete)
    real_token = browser.csrf("/nudges")
    stranger = signed_in(app, make_person(app))
    forged = [
        browser.client.post("/nudges/preferences", data={}),  # no token at all
        browser.client.post("/nudges/preferences", data={"csrf_token": "0" * 64}),
        browser.client.post(
            "/nudges/preferences", data={}, headers={"X-CSRF-Token": stranger.csrf("/nudges")}
        ),
        browser.client.post(  # the right token, from another site's page
            "/nudges/preferences",
            data={"csrf_token": real_token},
            headers={"Origin": "https://evil.example"},
        ),
    ]
    for answer in forged:
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "This form was refused" in text_of(answer.text)
    with app.state.sessions() as session:
        assert session.get(AlertPreference, athlete.id) is None  # never written: still the default (on)
        assert preferences(session, athlete.id).sleep_debt is True


def test_nudges_are_for_athletes(app: FastAPI) -> None:
    coach = signed_in(app, make_person(app, "coach"))
    answer = coach.client.get("/nudges")
    assert answer.status_code == 403 and "Nudges are for athletes" in answer.text
    signed_out = Browser(app).client.get("/nudges")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login?next=%2Fnudges"


# --- profile ---------------------------------------------------------------------------------


def stored_user(app: FastAPI, user_id: int) -> User:
    with app.state.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
        return user


def test_profile_shows_settings_and_every_zone_from_utc_minus_12_to_plus_14(app: FastAPI) -> None:
    athlete = make_person(app, tz="Pacific/Kiritimati")
    page = signed_in(app, athlete).page("/profile")
    assert 'value="Pacific/Kiritimati"' in page
    # No need set, and no nights yet: the field is empty and the hint says what is used meanwhile.
    assert re.search(r'<input id="field-sleep_need"[^>]*value=""', page)
    assert "Estimated: 8 h until we have 14 nights (0 so far)." in text_of(page)
    for zone in ("Etc/GMT+12", "Pacific/Pago_Pago", "Europe/Oslo", "Pacific/Kiritimati"):
        assert f'<option value="{zone}">' in page
    # Every rank of the source priority is a labelled select, showing the default order.
    for rank, vendor in enumerate(("oura", "whoop", "google", "apple", "manual"), start=1):
        assert f'<label for="priority-{rank}">' in page
        assert re.search(rf'id="priority-{rank}".*?<option value="{vendor}" selected>', page, re.DOTALL)


def test_invalid_profile_settings_keep_what_was_typed_and_change_nothing(app: FastAPI) -> None:
    athlete = make_person(app, tz="Europe/Oslo")
    browser = signed_in(app, athlete)
    typed = {"tz": "Mars/Olympus_Mons", "sleep_need": "7:75", "priority": ["whoop", "whoop", "apple"]}
    answer = browser.post("/profile", typed, from_page="/profile")
    assert answer.status_code == 422
    words = text_of(answer.text)
    assert "Nothing was saved: 3 settings need a change." in words
    assert "“Mars/Olympus_Mons” is not a time zone this server knows." in words
    assert "Enter hours and minutes (7:30) or minutes (450)." in words
    assert "Choose each source at most once." in words
    assert 'value="Mars/Olympus_Mons"' in answer.text and 'value="7:75"' in answer.text
    assert re.search(r'id="priority-2".*?<option value="whoop" selected>', answer.text, re.DOTALL)
    assert re.search(r'id="priority-4".*?<option value="" selected>', answer.text, re.DOTALL)

    # The API's bounds: 4 to 12 hours.
    for too_much in ("3:59", "721", "12:01"):
        answer = browser.post(
            "/profile", {"tz": "UTC", "sleep_need": too_much, "priority": ["oura"]}, from_page="/profile"
        )
        assert answer.status_code == 422
        assert "Your sleep need must be from 4 h to 12 h." in text_of(answer.text)
        assert f'value="{too_much}"' in answer.text
    nothing = browser.post(
        "/profile", {"tz": "UTC", "sleep_need": "8:00", "priority": ["", ""]}, from_page="/profile"
    )
    assert nothing.status_code == 422 and "Choose at least one source." in text_of(nothing.text)

    user = stored_user(app, athlete.id)
    assert (user.tz, user.sleep_need_min, user.source_priority) == ("Europe/Oslo", None, None)


def test_profile_saves_like_patch_me(app: FastAPI) -> None:
    athlete = make_person(app)
    browser = signed_in(app, athlete)
    for typed, minutes in (("7:30", 450), ("450", 450), (" 4:00 ", 240), ("720", 720), ("12:00", 720)):
        answer = browser.post(
            "/profile",
            {"tz": "Etc/GMT+12", "sleep_need": typed, "priority": ["whoop", "", "apple", "", ""]},
            from_page="/profile",
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/profile?done=saved"
        me = browser.client.get("/api/v1/me", headers=athlete.api).json()
        assert (me["tz"], me["sleepNeedMin"], me["sourcePriority"]) == (
            "Etc/GMT+12",
            minutes,
            ["whoop", "apple"],
        )
    page = browser.page("/profile?done=saved")
    assert "Your settings are saved." in page and 'value="12:00"' in page

    # Emptied: back to the estimate, as PATCH /me with null.
    answer = browser.post(
        "/profile", {"tz": "UTC", "sleep_need": "  ", "priority": ["oura"]}, from_page="/profile"
    )
    assert answer.status_code == 303
    assert browser.client.get("/api/v1/me", headers=athlete.api).json()["sleepNeedMin"] is None
    assert re.search(r'<input id="field-sleep_need"[^>]*value=""', browser.page("/profile"))


def test_coaches_set_their_time_zone_only(app: FastAPI) -> None:
    coach = make_person(app, "coach")
    browser = signed_in(app, coach)
    page = browser.page("/profile")
    assert 'name="tz"' in page and 'name="sleep_need"' not in page and 'name="priority"' not in page
    # A sleep need sent anyway is not a coach's setting: ignored.
    answer = browser.post("/profile", {"tz": "Pacific/Kiritimati", "sleep_need": "300"}, from_page="/profile")
    assert answer.status_code == 303
    user = stored_user(app, coach.id)
    assert (user.tz, user.sleep_need_min) == ("Pacific/Kiritimati", None)


def add_nights(app: FastAPI, user_id: int, minutes: dict[date, float]) -> None:
    with session_scope(app.state.sessions) as session:
        for day, duration in minutes.items():
            session.add(
                SleepDaily(user_id=user_id, date=day, vendor="oura", duration_min=duration, captured_at=NOW)
            )


def test_profile_shows_the_need_estimated_from_the_last_60_nights(app: FastAPI) -> None:
    athlete = make_person(app, tz="Pacific/Kiritimati")
    today = NOW.astimezone(ZoneInfo("Pacific/Kiritimati")).date()  # already 11 March there
    assert today == date(2026, 3, 11)
    # 13 nights before today: not yet the 14 the estimate needs. Last night is not one of them:
    # a night never counts towards the need it is measured against.
    add_nights(app, athlete.id, {today - timedelta(days=back): 420.0 for back in range(1, 14)})
    add_nights(app, athlete.id, {today: 600.0})
    with time_machine.travel(NOW, tick=False):
        browser = signed_in(app, athlete)
        assert "Estimated: 8 h until we have 14 nights (13 so far)." in text_of(browser.page("/profile"))
        # 40 nights of 7 h and 20 of 7 h 20 before today (a mean of 7 h 06 min 40 s), and one
        # 61 nights back that is out of the window.
        add_nights(app, athlete.id, {today - timedelta(days=back): 420.0 for back in range(14, 41)})
        add_nights(app, athlete.id, {today - timedelta(days=back): 440.0 for back in range(41, 61)})
        add_nights(app, athlete.id, {today - timedelta(days=61): 120.0})
        page = browser.page("/profile")
        assert "Estimated from your last 60 nights: 7 h 05 min." in text_of(page)
        assert re.search(r'<input id="field-sleep_need"[^>]*value=""', page)

        # A need of their own is shown in the field; the estimate stays beside it, to go back to.
        saved = browser.post(
            "/profile",
            {"tz": "Pacific/Kiritimati", "sleep_need": "8:30", "priority": ["oura"]},
            from_page="/profile",
        )
        assert saved.status_code == 303
        page = browser.page("/profile")
        assert 'value="8:30"' in page and "Estimated from your last 60 nights: 7 h 05 min." in text_of(page)


def sessions_of(app: FastAPI, user_id: int) -> int:
    with app.state.sessions() as session:
        return int(session.scalar(select(func.count()).where(WebSession.user_id == user_id)) or 0)


def test_changing_the_password_ends_every_other_session(app: FastAPI) -> None:
    athlete = make_person(app)
    laptop, phone = signed_in(app, athlete), signed_in(app, athlete)
    assert sessions_of(app, athlete.id) == 2
    new = "a much longer new secret"
    refusals = {
        "That is not your current password.": {"current_password": "wrong one here"},
        "The new password and its confirmation are not the same.": {"confirm_password": new + "!"},
        "A password needs at least 10 characters.": {"new_password": "short", "confirm_password": "short"},
        "The new password is the same as the current one.": {
            "new_password": PASSWORD,
            "confirm_password": PASSWORD,
        },
    }
    for message, change in refusals.items():
        form = {"current_password": PASSWORD, "new_password": new, "confirm_password": new, **change}
        answer = laptop.post("/profile/password", form, from_page="/profile")
        assert answer.status_code == 422, message
        assert message in text_of(answer.text)
        assert new not in answer.text and PASSWORD not in answer.text  # never echoed
    assert sessions_of(app, athlete.id) == 2

    old_cookie = laptop.client.cookies[SESSION_COOKIE]
    changed = laptop.post(
        "/profile/password",
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new},
        from_page="/profile",
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/profile?done=password"
    assert laptop.client.cookies[SESSION_COOKIE] != old_cookie  # a fresh session for this browser
    assert "Every other browser signed in as you has been signed out." in laptop.page(
        "/profile?done=password"
    )
    assert sessions_of(app, athlete.id) == 1
    gone = phone.client.get("/profile")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login?next=")
    reused = Browser(app)
    reused.client.cookies.set(SESSION_COOKIE, old_cookie)
    assert reused.client.get("/profile").status_code == 303
    again = Browser(app)
    with pytest.raises(AssertionError):
        again.sign_in(athlete)  # the old password
    again.sign_in(athlete, new)


# --- connections -----------------------------------------------------------------------------


def with_oura(settings: Settings) -> Settings:
    """Oura configured with a made-up client, as a server with its own Oura app would be."""
    return settings.model_copy(
        update={
            "oura_client_id": "fake-oura-client",
            "oura_client_secret": SecretStr("fake-oura-secret"),
            "oura_authorize_url": OURA_AUTHORIZE,
            "oura_token_url": "https://cloud.ouraring.example/oauth/token",
            "oura_api_base": "https://api.ouraring.example/v2",
        }
    )


def test_connections_say_what_each_vendor_is_and_link_goes_to_the_vendor(settings: Settings) -> None:
    app = create_app(with_oura(settings), run_workers=False)
    with TestClient(app):
        athlete = make_person(app)
        browser = signed_in(app, athlete)
        words = text_of(browser.page("/connections"))
        assert "Oura Not linked Link Oura" in words
        assert "WHOOP Not configured This server has no WHOOP client set up" in words
        assert "Link WHOOP" not in words

        refused = browser.client.post("/connections/oura/link", data={})
        assert refused.status_code == 403
        with app.state.sessions() as session:
            assert session.scalar(select(func.count()).select_from(OAuthState)) == 0

        started = browser.post("/connections/oura/link", {}, from_page="/connections")
        assert started.status_code == 303
        target = urlsplit(started.headers["location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == OURA_AUTHORIZE
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        assert query["client_id"] == "fake-oura-client" and len(query["state"]) >= 32
        assert query["redirect_uri"] == f"{settings.base_url}/api/v1/connections/oura/callback"
        cookie = started.headers["set-cookie"]
        assert cookie.startswith("perfhub_link_oura=") and "Path=/api/v1/connections/oura/callback" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        with app.state.sessions() as session:
            pending = session.scalars(select(OAuthState)).one()
            assert (pending.user_id, pending.vendor) == (athlete.id, "oura")

        unconfigured = browser.post("/connections/whoop/link", {}, from_page="/connections")
        assert unconfigured.status_code == 409 and "whoop is not configured" in unconfigured.text
        unknown = browser.post("/connections/fitbit/link", {}, from_page="/connections")
        assert unknown.status_code == 422


def test_link_through_the_callback_back_to_the_page_then_unlink(settings: Settings) -> None:
    fake = FakeOura()
    with running_vendor_app(settings, fake) as harness:
        app = harness.client.app
        athlete = make_person(app, tz="Pacific/Kiritimati")
        browser = signed_in(app, athlete)
        started = browser.post("/connections/oura/link", {}, from_page="/connections")
        assert started.status_code == 303
        back = consent(fake, started.headers["location"], fake.add_user())
        callback = browser.client.get("/api/v1/connections/oura/callback", params=back)
        assert callback.status_code == 303 and callback.headers["location"] == "/connections?linked=oura"
        harness.drain()  # the history backfill the link queued (nothing at the fake)
        linked = text_of(browser.page("/connections?linked=oura"))
        assert "Oura is linked." in linked
        assert re.search(r"Oura Linked Linked \d+ \w{3} \d{4}, \d\d:\d\d Last sync", linked), linked
        assert "Unlink Oura… Unlink Oura? perfhub stops receiving nights" in linked

        refused = browser.client.post("/connections/oura/unlink", data={})
        assert refused.status_code == 403
        unlinked = browser.post("/connections/oura/unlink", {}, from_page="/connections")
        assert unlinked.status_code == 303 and unlinked.headers["location"] == "/connections?unlinked=oura"
        words = text_of(browser.page("/connections?unlinked=oura"))
        assert "Oura is unlinked." in words
        assert re.search(r"Oura Not linked You unlinked Oura on \d+ \w{3} \d{4}, \d\d:\d\d\.", words)
        with harness.runtime.sessions() as session:
            connection = session.scalars(select(VendorConnection)).one()
            assert (connection.status, connection.status_reason, connection.access_token) == (
                "revoked",
                "unlinked",
                None,
            )
        assert browser.post("/connections/oura/unlink", {}, from_page="/connections").status_code == 404

        # A connection the vendor stopped accepting is explained, with a relink button.
        with session_scope(harness.runtime.sessions) as session:
            connection = session.scalars(select(VendorConnection)).one()
            connection.status, connection.status_reason = "needs_relink", "refresh_refused"
        words = text_of(browser.page("/connections"))
        assert "Oura Needs relink Oura stopped accepting perfhub's access" in words
        assert "Relink Oura" in words


# --- Apple Health upload ---------------------------------------------------------------------


@pytest.fixture
def export(tmp_path: Path) -> Path:
    start = datetime.now(UTC).date() - timedelta(days=20)
    path = write_export_xml(tmp_path / "export.xml", ExportSpec(start=start, days=10)).path
    # Over the 64 kB every other page takes: the page's route limit is the upload's.
    assert path.stat().st_size > 64 * 1024
    return path


def stored_nights(app: FastAPI, user_id: int) -> int:
    with app.state.sessions() as session:
        hrv = session.scalar(select(func.count()).select_from(HrvDaily).where(HrvDaily.user_id == user_id))
        sleep = session.scalar(
            select(func.count()).select_from(SleepDaily).where(SleepDaily.user_id == user_id)
        )
        return int(hrv or 0) + int(sleep or 0)


def landed(app: FastAPI) -> int:
    with app.state.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RawEvent)) or 0)


def test_upload_as_a_form_without_javascript(app: FastAPI, export: Path) -> None:
    athlete = make_person(app, tz="America/Los_Angeles")
    browser = signed_in(app, athlete)
    answer = browser.post(
        "/connections/apple-health",
        {},
        files={"export": ("export.xml", export.read_bytes(), "text/xml")},
        from_page="/connections",
    )
    assert answer.status_code == 303, answer.text
    target = urlsplit(answer.headers["location"])
    counts = {k: int(v[0]) for k, v in parse_qs(target.query).items()}
    assert target.path == "/connections" and target.fragment == "apple-health"
    assert counts["imported"] > 0 and counts["days"] >= 8 and counts["skipped"] == 0
    words = text_of(browser.page(f"{target.path}?{target.query}"))
    assert f"Imported {counts['imported']} records over {counts['days']} days." in words
    assert landed(app) > 0

    nothing = browser.post(
        "/connections/apple-health",
        {},
        files={"export": ("steps.xml", export_document([]).encode(), "text/xml")},
        from_page="/connections",
    )
    words = text_of(browser.page(nothing.headers["location"]))
    assert (
        "This export holds no HRV (SDNN), resting heart rate or sleep records, so nothing was imported"
        in words
    )

    no_file = browser.post("/connections/apple-health", {}, from_page="/connections")
    assert no_file.status_code == 422 and "Choose your Apple Health export" in no_file.text
    empty = browser.post(
        "/connections/apple-health",
        {},
        files={"export": ("export.zip", b"", "application/zip")},
        from_page="/connections",
    )
    assert empty.status_code == 422 and "export.zip is empty" in text_of(empty.text)


def test_upload_as_the_raw_body_from_the_pages_script(app: FastAPI, export: Path) -> None:
    athlete = make_person(app)
    browser = signed_in(app, athlete)
    token = browser.csrf("/connections")
    script = {"X-CSRF-Token": token, "Accept": "application/json", "Content-Type": "text/xml"}
    answer = browser.client.post("/connections/apple-health", content=export.read_bytes(), headers=script)
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["records"] > 0 and result["skipped"] == 0 and result["message"] is None
    assert result["sentence"] == f"Imported {result['records']} records over {result['days']} days."
    app.state.runtime.bus.drain()  # the pipeline lands the nights as it does for the API's upload
    assert stored_nights(app, athlete.id) >= result["days"]

    broken = browser.client.post(
        "/connections/apple-health", content=b"<html>not health</html>", headers=script
    )
    assert broken.status_code == 422
    assert broken.headers["content-type"].startswith("application/problem+json")
    assert broken.json()["detail"].startswith("not a usable Apple Health export")


def test_an_upload_without_the_token_is_refused_before_anything_is_read(app: FastAPI, export: Path) -> None:
    athlete = make_person(app)
    browser = signed_in(app, athlete)
    body = export.read_bytes()
    for headers in ({"Content-Type": "text/xml"}, {"Content-Type": "text/xml", "X-CSRF-Token": "f" * 64}):
        answer = browser.client.post("/connections/apple-health", content=body, headers=headers)
        assert answer.status_code == 403
    as_form = browser.client.post(
        "/connections/apple-health", files={"export": ("export.xml", body, "text/xml")}
    )
    assert as_form.status_code == 403
    signed_out = Browser(app).client.post(
        "/connections/apple-health", content=body, headers={"X-CSRF-Token": browser.csrf("/connections")}
    )
    assert signed_out.status_code == 403
    coach = signed_in(app, make_person(app, "coach"))
    as_coach = coach.client.post(
        "/connections/apple-health",
        content=body,
        headers={"X-CSRF-Token": coach.csrf("/profile"), "Content-Type": "text/xml"},
    )
    assert as_coach.status_code == 403
    assert landed(app) == 0 and stored_nights(app, athlete.id) == 0


def test_an_upload_over_the_limit_is_refused(settings: Settings, export: Path) -> None:
    app = create_app(
        settings.model_copy(update={"apple_health_max_upload_bytes": 100_000}), run_workers=False
    )
    with TestClient(app):
        browser = signed_in(app, make_person(app))
        big = export.read_bytes() + b" " * 100_000
        answer = browser.client.post(
            "/connections/apple-health",
            content=big,
            headers={"X-CSRF-Token": browser.csrf("/connections"), "Accept": "application/json"},
        )
        assert answer.status_code == 413  # the edge's limit for this route, not the 64 kB of the others
        assert "100000 bytes" in answer.json()["detail"]
        assert landed(app) == 0


# --- teams and the admin overview ------------------------------------------------------------


def test_teams_list_names_and_sharing_counts_for_coaches_and_admins(app: FastAPI) -> None:
    coach, other = (
        make_person(app, "coach", name="Casey Coach"),
        make_person(app, "coach", name="Other Coach"),
    )
    ada, bo = make_person(app, name="Ada Lovelace"), make_person(app, name="Bo Jackson")
    with session_scope(app.state.sessions) as session:

        def user(person: Person) -> User:
            found = session.get(User, person.id)
            assert found is not None
            return found

        rowers = create_team(session, "Rowers", user(coach))
        join_team(session, rowers.id, user(ada), {"hrv", "sleep"})
        join_team(session, rowers.id, user(bo), {"sleep"})
        hidden = create_team(session, "Cyclists", user(other))
        join_team(session, hidden.id, user(ada), {"readiness"})

    words = text_of(signed_in(app, coach).page("/teams"))
    assert "Your teams" in words and "Rowers 2 athletes." in words
    assert "HRV Sleep Readiness Training 1 of 2 2 of 2 0 of 2 0 of 2" in words
    assert "Ada Lovelace shares HRV, Sleep" in words and "Bo Jackson shares Sleep" in words
    assert "Cyclists" not in words

    admin_words = text_of(signed_in(app, make_person(app, "admin")).page("/teams"))
    assert "All teams" in admin_words
    assert "Cyclists Coach: Other Coach 1 athlete." in admin_words and "Coach: Casey Coach" in admin_words

    athlete = signed_in(app, ada).client.get("/teams")
    assert athlete.status_code == 403 and "Teams are for coaches and admins" in athlete.text


def test_the_admin_overview_counts_and_is_for_admins_only(app: FastAPI) -> None:
    admin = make_person(app, "admin")
    coach = make_person(app, "coach")
    athletes = [make_person(app, password=i == 0) for i in range(3)]
    with session_scope(app.state.sessions) as session:
        coach_user = session.get(User, coach.id)
        assert coach_user is not None
        create_team(session, "Rowers", coach_user)
        for person, status in zip(athletes, ("linked", "linked", "needs_relink"), strict=True):
            session.add(VendorConnection(user_id=person.id, vendor="oura", status=status))
        session.add(DeadLetter(subject="perfhub.readings.landed", payload={}, reason="boom", attempts=5))

    words = text_of(signed_in(app, admin).page("/admin"))
    assert "Athletes 3 Coaches 1 Admins 1 Teams 1" in words
    assert "Linked 2 Need relinking 1 Unlinked 0" in words
    assert "Dead letters waiting 1" in words and "1 event failed every retry and waits for you" in words
    assert re.search(r"Outbox backlog \d+", words)
    page = signed_in(app, admin).page("/admin")
    assert 'href="/docs"' in page and 'href="/metrics"' in page

    for person in (coach, athletes[0]):
        refused = signed_in(app, person).client.get("/admin")
        assert refused.status_code == 403 and "This page is for administrators" in refused.text
