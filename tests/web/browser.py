"""Helpers for the browser tests: the app served for real, signing in, accessibility, screenshots.

Fixtures live in ``tests/web/conftest.py``; the helpers here are imported by the tests:

    from tests.web.browser import check_accessibility, login, screenshot
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import BrowserContext, Page
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import SECRET, services_required

from perfhub.app import create_app
from perfhub.auth.passwords import set_password
from perfhub.auth.service import create_user
from perfhub.core.db import session_scope
from perfhub.pipeline.runtime import Runtime
from perfhub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = ROOT / "web-assets" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

CHROMIUM_ARGS = (
    "--no-sandbox",  # the tests run as root in containers, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB; Chromium would crash on big pages
    # Nothing but the pages under test may use the network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

# The accessibility bar every page meets: WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BLOCKING_IMPACTS = ("serious", "critical")

DEFAULT_PASSWORD = "correct horse battery"


def skip_or_fail(reason: str) -> None:
    """Skip a browser test whose tools are missing; under CI they are required, so fail."""
    if services_required():
        pytest.fail(reason + " (required: CI=true or PERFHUB_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        skip_or_fail(f"browser test: {CHROMIUM} is not installed (make browser, or apt-get install chromium)")


def require_axe() -> None:
    if not AXE_SCRIPT.is_file():
        skip_or_fail(
            f"accessibility check: {AXE_SCRIPT} is missing (make browser, or npm ci --prefix web-assets)"
        )


# --- the app, served -------------------------------------------------------------------------


@dataclass(frozen=True)
class WebUser:
    """A person the test made, with the password they sign in with."""

    id: int
    email: str
    password: str
    role: str
    tz: str
    token: str  # their API token, for calls the page under test does not make


@dataclass
class LiveServer:
    """The app under uvicorn on 127.0.0.1, with its own SQLite database.

    One serves a whole test module: each test makes its own people with :meth:`user` (fresh
    email every time), so what one test seeds never changes what another sees of its own.
    The pipeline runs in the server; ``runtime.bus.drain()`` delivers what seeding published
    now rather than at the bus's next poll.
    """

    url: str
    settings: Settings
    sessions: sessionmaker[Session]
    runtime: Runtime

    def user(
        self,
        role: str = "athlete",
        tz: str = "UTC",
        password: str = DEFAULT_PASSWORD,
        *,
        email: str | None = None,
        name: str = "",
    ) -> WebUser:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        with session_scope(self.sessions) as session:
            user, token = create_user(session, email, role, name=name, tz=tz)
            set_password(session, user, password)
            return WebUser(user.id, user.email, password, role, tz, token)


@contextmanager
def serve(database_url: str, var_dir: Path) -> Iterator[LiveServer]:
    """Run the app in a background thread until the block ends, then shut it down cleanly."""
    # The socket is bound here and handed to uvicorn, so no other process can take the port
    # between choosing it and listening on it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = Settings(
            database_url=database_url, var_dir=var_dir, base_url=url, secret_key=SECRET, nats_url=None
        )
        app = create_app(settings)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
        )
        thread.start()
        try:
            _wait_healthy(url, server, thread)
            yield LiveServer(url, settings, app.state.sessions, app.state.runtime)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    assert not thread.is_alive(), "the live server did not shut down within 15 s"


def _wait_healthy(url: str, server: uvicorn.Server, thread: threading.Thread, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise AssertionError("the live server stopped while starting (see the captured log)")
        if server.started:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.02)
    raise AssertionError(f"the live server did not answer {url}/healthz within {timeout:.0f} s")


def copy_database(template: Path, target: Path) -> str:
    """A database URL for a copy of the migrated template (migrating again would cost seconds)."""
    shutil.copy(template, target)
    return f"sqlite:///{target}"


# --- signing in ------------------------------------------------------------------------------


def login(page: Page, live_server: LiveServer, user: WebUser) -> None:
    """Sign ``user`` in through the login form; fails if the browser is still on the login page."""
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email", exact=True).fill(user.email)
    page.get_by_label("Password", exact=True).fill(user.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    if urlsplit(page.url).path == "/login":
        alerts = page.get_by_role("alert").all_inner_texts()
        raise AssertionError(f"sign-in as {user.email} failed: {' '.join(alerts) or 'still on /login'}")


# --- accessibility ---------------------------------------------------------------------------


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every WCAG 2.0/2.1 A and AA violation axe-core finds on the page as it is now."""
    require_axe()
    # Evaluated through the DevTools protocol rather than added as a <script>: the pages' CSP
    # refuses inline scripts, and must not be loosened for the tests.
    page.evaluate(AXE_SCRIPT.read_text())
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        list(WCAG_TAGS),
    )
    return list(results["violations"])


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} — {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            lines.append(f"    at {json.dumps(node['target'])}: {node['html'][:200]}")
    return "\n".join(lines)


def check_accessibility(page: Page) -> None:
    """Assert the page has no serious or critical WCAG 2.0/2.1 A/AA violation (axe-core)."""
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"accessibility violations on {page.url}:\n{describe_violations(blocking)}"


# --- screen sizes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenSize:
    width: int
    height: int
    device_scale_factor: float
    is_mobile: bool

    def context_options(self) -> dict[str, Any]:
        return {
            "viewport": {"width": self.width, "height": self.height},
            "device_scale_factor": self.device_scale_factor,
            "is_mobile": self.is_mobile,
            "has_touch": self.is_mobile,
        }


SCREEN_SIZES = {
    "desktop": ScreenSize(1280, 800, 1, is_mobile=False),
    "phone": ScreenSize(390, 844, 2, is_mobile=True),
}


@contextmanager
def at_each_size(page: Page, url: str | None = None) -> Iterator[dict[str, Page]]:
    """``url`` (default: the page's; a path is taken relative to it) opened at each of
    SCREEN_SIZES, signed in as ``page`` is.

    Size and touch are fixed when a browser context is made, so each size gets a context of its
    own with the page's cookies and local storage; they are closed when the block ends. The
    pages are loaded afresh (a GET), after the network has gone quiet, so htmx fragments that
    load with the page are in.
    """
    target = urljoin(page.url, url) if url else page.url
    if not target.startswith("http"):
        raise ValueError(f"at_each_size needs a page loaded from the server, not {target!r}")
    browser = page.context.browser
    assert browser is not None
    state = page.context.storage_state()
    contexts = []
    try:
        pages = {}
        for name, size in SCREEN_SIZES.items():
            context = browser.new_context(storage_state=state, **size.context_options())
            contexts.append(context)
            isolate_from_network(context)
            pages[name] = context.new_page()
            pages[name].goto(target, wait_until="commit")
        # Both load at once; the waits overlap.
        for sized in pages.values():
            sized.wait_for_load_state("networkidle")
        yield pages
    finally:
        for context in contexts:
            context.close()


def screenshot(page: Page, name: str, url: str | None = None) -> dict[str, Path]:
    """Full-page PNGs of the page (or ``url``) at desktop and phone size, as :func:`at_each_size`
    opens them: ``test-artifacts/screenshots/{name}-desktop.png`` and ``{name}-phone.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = {}
    with at_each_size(page, url) as pages:
        for size, sized in pages.items():
            paths[size] = SCREENSHOTS / f"{name}-{size}.png"
            sized.screenshot(path=paths[size], full_page=True)
    return paths


# --- network ---------------------------------------------------------------------------------

# Any URL that leaves the machine. A regular expression, not a function, so that Playwright
# matches it in the browser's driver and local requests never wait on Python.
REMOTE_URL = re.compile(r"^(https?|wss?)://(?!(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$))")


def isolate_from_network(context: BrowserContext) -> None:
    """Refuse every request that leaves the machine: pages ship their assets, they use no CDN."""
    context.route(REMOTE_URL, lambda route: route.abort("blockedbyclient"))
