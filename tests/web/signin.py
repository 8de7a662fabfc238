"""Signing in through the pages with a TestClient, as a browser would (cookies, CSRF field)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Harness

from perfhub.auth.models import User
from perfhub.auth.passwords import set_password
from perfhub.core.db import session_scope

PASSWORD = "correct horse battery"
HTML = {"accept": "text/html"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def with_password(
    harness: Harness, role: str = "athlete", tz: str = "UTC", email: str | None = None
) -> dict[str, Any]:
    """A person (``harness.user``) who can sign in to the pages with :data:`PASSWORD`."""
    person = harness.user(role, email=email, tz=tz)
    with session_scope(harness.runtime.sessions) as session:
        user = session.get(User, person["id"])
        assert user is not None
        set_password(session, user, PASSWORD)
    return person


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path, headers=HTML)
    found = _CSRF.search(page.text)
    assert found is not None, f"no CSRF field on {path}"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_path: str = "/") -> Any:
    token = csrf_of(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_path},
        headers=HTML,
        follow_redirects=False,
    )
