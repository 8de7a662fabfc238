"""Signing in and out of the pages: passwords, session cookies, CSRF, the rate limit, redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import Harness
from tests.web.signin import HTML, PASSWORD, csrf_of, sign_in, with_password

from perfhub.app import create_app
from perfhub.auth.models import LoginFailure, User, WebSession
from perfhub.auth.passwords import check_policy, verify_password
from perfhub.auth.sessions import (
    FAILURE_WINDOW,
    IDLE_TIMEOUT,
    MAX_FAILURES_PER_ACCOUNT,
    MAX_FAILURES_PER_CLIENT,
    SESSION_LIFETIME,
    hash_secret,
)
from perfhub.auth.sessions import sign_in as sign_in_service
from perfhub.core.db import session_scope
from perfhub.core.errors import TooManyRequests, Unprocessable
from perfhub.settings import Settings
from perfhub.web.security import PRE_SESSION_COOKIE, SESSION_COOKIE

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# The pages sit above the bus: SQLite covers them, and the tests that write sessions and
# failures run on PostgreSQL too.
pytestmark = pytest.mark.backends("sqlite")


def test_signed_out_home_is_the_login_form_and_signing_in_lands_on_the_role_home(harness: Harness) -> None:
    athlete = with_password(harness)
    client = harness.client
    home = client.get("/", headers=HTML)
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    assert 'type="email"' in home.text and 'type="password"' in home.text and "csrf_token" in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]

    answer = sign_in(client, athlete["email"])
    assert answer.status_code == 303 and answer.headers["location"] == "/today"
    cookie = answer.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served over plain http here
    assert client.get("/", headers=HTML, follow_redirects=False).headers["location"] == "/today"


@pytest.mark.parametrize(("role", "home"), [("coach", "/teams"), ("admin", "/admin")])
def test_each_role_has_its_home(harness: Harness, role: str, home: str) -> None:
    person = with_password(harness, role)
    assert sign_in(harness.client, person["email"]).headers["location"] == home


@pytest.mark.backends("sqlite", "postgres")
def test_signing_out_ends_the_session_wherever_its_cookie_was_copied(harness: Harness) -> None:
    athlete = with_password(harness)
    client = harness.client
    sign_in(client, athlete["email"])
    stolen = client.cookies[SESSION_COOKIE]
    token = csrf_of(client, "/profile")  # a signed-in person's forms carry the session's token
    out = client.post("/logout", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login?signed_out=true"
    assert harness.count(WebSession) == 0
    other = TestClient(client.app, cookies={SESSION_COOKIE: stolen})
    again = other.get("/", headers=HTML, follow_redirects=False)
    assert again.status_code == 200 and 'type="password"' in again.text  # the login form, not a home


def test_wrong_password_and_unknown_email_get_the_same_answer_and_no_session(harness: Harness) -> None:
    athlete = with_password(harness)
    wrong = sign_in(harness.client, athlete["email"], "not the password")
    unknown = sign_in(harness.client, "nobody@example.org")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "do not match an account" in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert f'value="{athlete["email"]}"' in wrong.text  # what was typed is kept
    assert harness.count(WebSession) == 0
    with harness.runtime.sessions() as session:
        stored = session.scalars(select(LoginFailure.email_hash)).all()
    # The table keeps hashes, not the addresses people typed.
    assert hash_secret(athlete["email"]) in stored and athlete["email"] not in stored


@pytest.mark.backends("sqlite", "postgres")
def test_the_rate_limit_holds_even_for_the_right_password_and_lifts_after_the_window(
    harness: Harness,
) -> None:
    athlete = with_password(harness)
    with time_machine.travel(NOON, tick=False):
        for _ in range(MAX_FAILURES_PER_ACCOUNT):
            assert sign_in(harness.client, athlete["email"], "wrong password").status_code == 401
        held = sign_in(harness.client, athlete["email"])
        assert held.status_code == 429
        assert int(held.headers["retry-after"]) == int(FAILURE_WINDOW.total_seconds())
        assert "Too many wrong passwords" in held.text and "15 minutes" in held.text
    with time_machine.travel(NOON + FAILURE_WINDOW + timedelta(seconds=1), tick=False):
        assert sign_in(harness.client, athlete["email"]).status_code == 303
    # A correct password clears the count.
    assert harness.count(LoginFailure) == 0


def test_one_address_guessing_across_many_accounts_is_held_too(harness: Harness) -> None:
    athlete = with_password(harness)
    with session_scope(harness.runtime.sessions) as session:
        session.add_all(
            LoginFailure(email_hash=hash_secret(f"guess{i}@example.org"), client="203.0.113.9", at=NOON)
            for i in range(MAX_FAILURES_PER_CLIENT)
        )
    with session_scope(harness.runtime.sessions) as session, pytest.raises(TooManyRequests):
        sign_in_service(session, athlete["email"], PASSWORD, "203.0.113.9", now=NOON + timedelta(minutes=1))
    with session_scope(harness.runtime.sessions) as session:
        assert sign_in_service(session, athlete["email"], PASSWORD, "198.51.100.7", now=NOON) is not None


def test_forms_without_this_sites_token_are_refused_and_change_nothing(harness: Harness) -> None:
    athlete = with_password(harness)
    client = harness.client
    forged = client.post(
        "/login", data={"email": athlete["email"], "password": PASSWORD}, headers=HTML, follow_redirects=False
    )
    assert forged.status_code == 403 and "text/html" in forged.headers["content-type"]
    assert "reload the page" in forged.text and harness.count(WebSession) == 0

    # A token is bound to its browser: another browser's token does not fit this one's cookie.
    elsewhere = TestClient(client.app)
    foreign = csrf_of(elsewhere)
    csrf_of(client)
    stolen = client.post(
        "/login",
        data={"email": athlete["email"], "password": PASSWORD, "csrf_token": foreign},
        headers=HTML,
        follow_redirects=False,
    )
    assert stolen.status_code == 403

    # The right token, but the browser says the form came from another site.
    token = csrf_of(client)
    for header in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        cross = client.post(
            "/login",
            data={"email": athlete["email"], "password": PASSWORD, "csrf_token": token},
            headers={**HTML, **header},
            follow_redirects=False,
        )
        assert cross.status_code == 403, header
    assert harness.count(WebSession) == 0

    sign_in(client, athlete["email"])
    out = client.post("/logout", headers=HTML, follow_redirects=False)
    assert out.status_code == 403 and harness.count(WebSession) == 1


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_after_sign_in_only_local_pages_are_followed(harness: Harness, target: str) -> None:
    athlete = with_password(harness)
    assert sign_in(harness.client, athlete["email"], next_path=target).headers["location"] == "/today"


def test_a_signed_out_page_request_comes_back_after_sign_in(harness: Harness) -> None:
    athlete = with_password(harness)
    away = harness.client.get("/sleep?from=2026-11-01", headers=HTML, follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/login?next=%2Fsleep%3Ffrom%3D2026-11-01"
    back = sign_in(harness.client, athlete["email"], next_path="/sleep?from=2026-11-01")
    assert back.headers["location"] == "/sleep?from=2026-11-01"


def test_sessions_end_when_idle_and_at_their_lifetime(harness: Harness) -> None:
    athlete = with_password(harness)

    def start() -> dict[str, str]:
        with time_machine.travel(NOON, tick=False):
            sign_in(harness.client, athlete["email"])
        # Sent by hand: the server must end the session even for a browser that keeps the cookie.
        cookie = {**HTML, "cookie": f"{SESSION_COOKIE}={harness.client.cookies[SESSION_COOKIE]}"}
        harness.client.cookies.clear()
        return cookie

    def signed_in(headers: dict[str, str]) -> bool:
        return harness.client.get("/", headers=headers, follow_redirects=False).status_code == 303

    cookie = start()
    with time_machine.travel(NOON + IDLE_TIMEOUT - timedelta(minutes=1), tick=False):
        assert signed_in(cookie)
    # Seen just now, so it is not idle; but the lifetime counts from sign-in.
    with time_machine.travel(NOON + SESSION_LIFETIME - timedelta(minutes=1), tick=False):
        assert not signed_in(cookie)  # idle by now (11 days unseen)
    assert harness.count(WebSession) == 0

    cookie = start()
    with time_machine.travel(NOON + IDLE_TIMEOUT, tick=False):
        assert not signed_in(cookie)
    cookie = start()
    for day in range(1, 14):
        with time_machine.travel(NOON + timedelta(days=day), tick=False):
            assert signed_in(cookie), day
    with time_machine.travel(NOON + SESSION_LIFETIME, tick=False):
        assert not signed_in(cookie)
    assert harness.count(WebSession) == 0


def test_cookies_are_secure_when_served_over_https(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"base_url": "https://perfhub.example.org"}))
    with TestClient(app, base_url="https://perfhub.example.org") as client:
        page = client.get("/login", headers=HTML)
        assert (
            "Secure" in page.headers["set-cookie"] and f"{PRE_SESSION_COOKIE}=" in page.headers["set-cookie"]
        )


def test_page_errors_are_pages_and_api_errors_stay_problem_json(harness: Harness) -> None:
    page = harness.client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is nothing here" in page.text
    api = harness.client.get("/api/v1/no-such-thing", headers=HTML)
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    assert harness.client.get("/no-such-page").headers["content-type"] == "application/problem+json"


def test_password_policy_and_stored_hash(harness: Harness) -> None:
    for bad in ("short", "x" * 300, "Person@Example.org"):
        with pytest.raises(Unprocessable):
            check_policy(bad, "person@example.org")
    athlete = with_password(harness)
    with harness.runtime.sessions() as session:
        user = session.get(User, athlete["id"])
        assert user is not None and user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert verify_password(session, user, PASSWORD) and not verify_password(session, user, PASSWORD + "!")


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_sign_in(harness: Harness) -> None:
    athlete = with_password(harness)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, athlete["id"])
        assert user is not None
        user.password_hash = weak
    assert sign_in(harness.client, athlete["email"]).status_code == 303
    with harness.runtime.sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.id == athlete["id"]))
    assert stored is not None and stored != weak and "m=65536" in stored


def test_the_password_form_counts_wrong_current_passwords_toward_the_same_limit(harness: Harness) -> None:
    athlete = with_password(harness)
    client = harness.client
    sign_in(client, athlete["email"])
    token = csrf_of(client, "/profile")

    def change(current: str) -> str:
        form = {
            "csrf_token": token,
            "current_password": current,
            "new_password": "a brand new password",
            "confirm_password": "a brand new password",
        }
        return client.post("/profile/password", data=form, headers=HTML, follow_redirects=False).text

    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        assert "not your current password" in change("a wrong guess")
    assert "Too many wrong passwords" in change(PASSWORD)  # a stolen session cannot keep guessing
    with harness.runtime.sessions() as session:
        user = session.get(User, athlete["id"])
        assert user is not None and verify_password(session, user, PASSWORD)
