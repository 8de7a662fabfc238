"""The browser-test fixtures themselves: Chromium, the live server, sign-in, axe-core, screenshots."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import select
from tests.web.browser import (
    CHROMIUM,
    SCREENSHOTS,
    LiveServer,
    at_each_size,
    axe_violations,
    check_accessibility,
    login,
    screenshot,
)

from perfhub.auth.models import User
from perfhub.auth.passwords import verify_password

ACCESSIBLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fine</title></head>
<body><main><h1>Readiness</h1>
<label for="note">Note</label><input id="note" name="note">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A flat trend line">
</main></body></html>"""

INACCESSIBLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Broken</title></head>
<body><main><h1>Readiness</h1>
<input id="note" name="note">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
</main></body></html>"""

# The same refusal the app's pages send (perfhub.web.security): no inline script at all.
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


def test_chromium_is_the_system_one_and_headless(browser: Browser, page: Page) -> None:
    installed = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=True)
    assert browser.version.split(".")[0] in installed.stdout  # major version of /usr/bin/chromium
    page.set_content("<p>hello</p>")
    agent = page.evaluate("navigator.userAgent")
    assert "HeadlessChrome" in agent, agent


def test_live_server_serves_the_app_and_shuts_it_out_of_the_internet(
    live_server: LiveServer, page: Page
) -> None:
    assert live_server.url.startswith("http://127.0.0.1:")
    assert live_server.settings.base_url == live_server.url
    assert live_server.settings.database_url.startswith("sqlite:///")
    assert live_server.runtime.sessions is live_server.sessions
    assert httpx.get(live_server.url + "/readyz").json()["status"] == "ready"

    refused: list[str] = []
    page.on("requestfailed", lambda request: refused.append(request.url))
    response = page.goto(live_server.url + "/docs")
    assert response is not None and response.status == 200
    assert page.title() == "perfhub - Swagger UI"
    # Swagger UI loads its script from a CDN; the browser may not reach it.
    assert any("cdn.jsdelivr.net" in url for url in refused), refused


def test_live_server_users_have_their_own_email_and_a_working_password(live_server: LiveServer) -> None:
    coach = live_server.user("coach", tz="Pacific/Kiritimati")
    athlete = live_server.user(password="another good password")
    assert coach.email != athlete.email
    assert (coach.role, coach.tz, coach.password) == ("coach", "Pacific/Kiritimati", "correct horse battery")
    with live_server.sessions() as session:
        stored = session.scalars(select(User).where(User.id.in_([coach.id, athlete.id]))).all()
        by_id = {user.id: user for user in stored}
        assert verify_password(session, by_id[athlete.id], "another good password")
        assert not verify_password(session, by_id[athlete.id], "correct horse battery")
        assert by_id[coach.id].tz == "Pacific/Kiritimati"


def _login_form(action: str) -> str:
    return f"""<!doctype html><html lang="en"><head><title>Sign in</title></head><body>
<form method="get" action="{action}">
  <label for="email">Email</label><input id="email" name="email" type="email">
  <label for="password">Password</label><input id="password" name="password" type="password">
  <button type="submit">Sign in</button>
</form><p role="alert">wrong email or password</p></body></html>"""


def test_login_fills_the_labelled_fields_and_submits(live_server: LiveServer, page: Page) -> None:
    # A stand-in login form (the helper is tested here, the real form in its own tests) that
    # sends the fields to /healthz, so the address shows what was filled in.
    def form(route: Route) -> None:
        route.fulfill(content_type="text/html", body=_login_form("/healthz"))

    page.route(f"{live_server.url}/login", form)
    user = live_server.user()
    login(page, live_server, user)
    assert page.url.startswith(f"{live_server.url}/healthz?")
    assert f"email={user.email.replace('@', '%40')}" in page.url
    assert "password=correct+horse+battery" in page.url


def test_login_says_why_when_the_browser_stays_on_the_login_page(live_server: LiveServer, page: Page) -> None:
    page.route(
        f"{live_server.url}/login*",
        lambda route: route.fulfill(content_type="text/html", body=_login_form("/login")),
    )
    with pytest.raises(AssertionError, match="failed: wrong email or password"):
        login(page, live_server, live_server.user())


def test_accessibility_check_passes_a_good_page(page: Page) -> None:
    page.set_content(ACCESSIBLE_PAGE)
    check_accessibility(page)


def test_accessibility_check_reports_a_missing_alt_and_an_unlabelled_input(page: Page) -> None:
    page.set_content(INACCESSIBLE_PAGE)
    with pytest.raises(AssertionError) as failure:
        check_accessibility(page)
    message = str(failure.value)
    assert "image-alt (critical)" in message
    assert "label (critical)" in message
    assert '["img"]' in message and '["#note"]' in message  # where, not only what


def test_accessibility_check_works_under_the_pages_content_security_policy(
    live_server: LiveServer, page: Page
) -> None:
    body = INACCESSIBLE_PAGE.replace("</main>", "</main><script>window.inline = true</script>")
    page.route(
        f"{live_server.url}/strict",
        lambda route: route.fulfill(
            content_type="text/html", headers={"Content-Security-Policy": STRICT_CSP}, body=body
        ),
    )
    page.goto(f"{live_server.url}/strict")
    # The policy is in force (the inline script did not run) and axe-core runs all the same.
    assert page.evaluate("typeof window.inline") == "undefined"
    assert {violation["id"] for violation in axe_violations(page)} >= {"image-alt", "label"}


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_each_size_opens_the_page_with_its_cookies_at_that_size(live_server: LiveServer, page: Page) -> None:
    page.context.add_cookies([{"name": "perfhub_session", "value": "signed-in", "url": live_server.url}])
    page.goto(live_server.url + "/healthz")
    with at_each_size(page) as pages:
        seen = {
            name: sized.evaluate("[screen.width, devicePixelRatio, matchMedia('(pointer: coarse)').matches]")
            for name, sized in pages.items()
        }
        for sized in pages.values():
            assert sized.url == live_server.url + "/healthz"
            assert {c["name"]: c["value"] for c in sized.context.cookies()}["perfhub_session"] == "signed-in"
    # A phone lays out pages without <meta name="viewport"> (like this JSON) 980 px wide, as real ones do.
    assert seen == {"desktop": [1280, 1, False], "phone": [390, 2, True]}
    assert all(sized.is_closed() for sized in pages.values())


def test_screenshot_renders_the_page_at_desktop_and_phone_size(live_server: LiveServer, page: Page) -> None:
    page.goto(live_server.url + "/healthz")
    paths = screenshot(page, "infra-docs", "/docs")  # a path is relative to the page's address
    assert paths == {
        "desktop": SCREENSHOTS / "infra-docs-desktop.png",
        "phone": SCREENSHOTS / "infra-docs-phone.png",
    }
    assert _png_size(paths["desktop"])[0] == 1280
    assert _png_size(paths["phone"])[0] == 390 * 2  # device scale 2
    assert page.viewport_size == {"width": 1280, "height": 720}  # the test's own page is left alone
