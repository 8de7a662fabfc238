"""Signing in and out in a real browser: the form, wrong passwords, the rate limit, a forged form."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect
from tests.web.browser import LiveServer, check_accessibility, login, screenshot

from perfhub.auth.sessions import MAX_FAILURES_PER_ACCOUNT

EVIL = "https://evil.example/"


def _submit(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


def test_sign_in_and_out(live_server: LiveServer, page: Page) -> None:
    athlete = live_server.user(name="Ada Runner")
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to perfhub")
    check_accessibility(page)
    screenshot(page, "login")

    login(page, live_server, athlete)
    assert page.url == live_server.url + "/today"
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Today")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_text("Ada Runner")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(live_server.url + "/today")
    assert page.url == live_server.url + "/login?next=%2Ftoday"  # back to the form, and back after it


def test_wrong_password_then_the_rate_limit(live_server: LiveServer, page: Page) -> None:
    athlete = live_server.user()
    page.goto(live_server.url + "/login")
    _submit(page, athlete.email, "not my password")
    expect(page.get_by_role("alert")).to_have_text("That email and password do not match an account.")
    expect(page.get_by_label("Email", exact=True)).to_have_value(athlete.email)
    check_accessibility(page)  # the page with its error, as a screen reader meets it
    for _ in range(MAX_FAILURES_PER_ACCOUNT - 1):
        _submit(page, athlete.email, "still not it")
    _submit(page, athlete.email, athlete.password)  # right, but too late
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong passwords. Wait 15 minutes")
    assert page.url.endswith("/login")


def test_a_form_on_another_site_cannot_sign_you_out(live_server: LiveServer, page: Page) -> None:
    athlete = live_server.user()
    login(page, live_server, athlete)
    forged = f"""<!doctype html><html lang="en"><title>Win a prize</title><body>
    <form method="post" action="{live_server.url}/logout"><button>Claim</button></form></body></html>"""

    def evil_site(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=forged)

    page.route(EVIL, evil_site)
    page.goto(EVIL)
    with page.expect_navigation():
        page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot do that here")
    expect(page.get_by_text(re.compile("This form was refused"))).to_be_visible()
    page.goto(live_server.url + "/today")
    assert page.url == live_server.url + "/today"  # still signed in


def test_an_unknown_address_is_a_page_in_words(live_server: LiveServer, page: Page) -> None:
    login(page, live_server, live_server.user())
    answer = page.goto(live_server.url + "/no-such-page")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("There is nothing here")
    expect(page.get_by_role("link", name="Go to your home page")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "not-found")
