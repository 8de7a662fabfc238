"""Fixtures for the browser tests (Playwright's sync API through pytest-playwright).

``page``, ``context`` and ``browser`` come from pytest-playwright; here they run the system
Chromium headless, cut off from everything but the machine itself. ``live_server`` serves the
app for real. Helpers to sign in, check accessibility and take screenshots are in
``tests/web/browser.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext
from tests.web.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    copy_database,
    isolate_from_network,
    require_chromium,
    serve,
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    require_chromium()
    # The plugin's own arguments come from the command line (--headed, --slowmo) and win.
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": list(CHROMIUM_ARGS),
    }


@pytest.fixture
def new_context(new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    def isolated_context(**kwargs: Any) -> BrowserContext:
        context = new_context(**kwargs)
        isolate_from_network(context)
        return context

    return isolated_context


@pytest.fixture(scope="module")
def live_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on a free 127.0.0.1 port with a database of its own, shared by the module's tests."""
    work = tmp_path_factory.mktemp("live-server")
    with serve(copy_database(sqlite_template, work / "perfhub.db"), work / "var") as server:
        yield server
