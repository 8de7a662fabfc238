"""The app with a vendor's fake mounted in process, an athlete linked through the OAuth flow, and
the rows a vendor's mapping makes.

``vendor_app(fake, **overrides)`` (a fixture) builds the app on the test's database with the
vendor's settings pointing at ``fake`` (``http://fake-<vendor>``) and routes the vendors' HTTP
client into the fake; ``link_athlete`` runs the link flow as a browser would: POST /link,
consent at the vendor, back to the callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.conftest import Harness
from tests.fakes import FakeVendor, in_process

from perfhub.app import create_app
from perfhub.readings.mapping import Mapped
from perfhub.settings import Settings
from perfhub.wearables.vendors.registry import http_client, use_http_client

VendorApp = Callable[..., AbstractContextManager[Harness]]


def vendor_settings(settings: Settings, fake: Any, **overrides: Any) -> Settings:
    """``settings`` with the fake's vendor configured at ``http://fake-<vendor>``."""
    vendor = fake.name
    config = fake.config(f"http://fake-{vendor}")
    return settings.model_copy(
        update={
            f"{vendor}_client_id": fake.client_id,
            f"{vendor}_client_secret": SecretStr(fake.client_secret),
            f"{vendor}_authorize_url": config.authorize_url,
            f"{vendor}_token_url": config.token_url,
            f"{vendor}_api_base": config.api_base,
            **overrides,
        }
    )


@contextmanager
def running_vendor_app(settings: Settings, fake: FakeVendor, **overrides: Any) -> Iterator[Harness]:
    app = create_app(vendor_settings(settings, fake, **overrides))
    with in_process(fake) as vendor_http, TestClient(app) as client:
        use_http_client(vendor_http)
        try:
            yield Harness(client, app.state.runtime)
        finally:
            use_http_client(None)


@pytest.fixture
def vendor_app(settings: Settings) -> VendorApp:
    """``with vendor_app(fake, **settings_overrides) as harness``: the app on this test's database."""
    return partial(running_vendor_app, settings)


@dataclass(frozen=True)
class Linked:
    auth_url: str  # what POST /link answered
    query: dict[str, str]  # what the vendor sent the browser back to the callback with
    callback: httpx.Response


def consent(fake: Any, auth_url: str, vendor_user: object) -> dict[str, str]:
    """``vendor_user`` consents at the vendor; returns the query it redirects the browser back with."""
    fake.oauth.authorize_as = str(vendor_user)
    answer = http_client().get(auth_url)
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def link_athlete(harness: Harness, fake: Any, athlete: dict[str, Any], vendor_user: object) -> Linked:
    """``athlete`` links ``vendor_user``'s account at the fake's vendor; asserts it was linked."""
    vendor = fake.name
    started = harness.client.post(f"/api/v1/connections/{vendor}/link", headers=athlete["headers"])
    assert started.status_code == 201, started.text
    auth_url = started.json()["authUrl"]
    query = consent(fake, auth_url, vendor_user)
    callback = harness.client.get(
        f"/api/v1/connections/{vendor}/callback", params={"code": query["code"], "state": query["state"]}
    )
    assert callback.status_code == 200, callback.text
    return Linked(auth_url, query, callback)


def rows(mapped: list[Mapped]) -> list[tuple[str, dict[str, Any]]]:
    """The (signal, payload) pairs, asserting no Deletion marker slipped in."""
    out = [item for item in mapped if isinstance(item, tuple)]
    assert len(out) == len(mapped)
    return out
