"""No secret perfhub is given is ever stored in the clear: a scan of the database's bytes.

Everything secret that passes through a running perfhub is collected — the vendor access and
refresh tokens the fakes issue during real link flows (and rotate on refresh), PKCE verifiers,
OAuth states and codes, the API tokens it issues and rotates, the vendors' client secrets, the
Oura webhook verification token and PERFHUB_SECRET_KEY — and then the whole database is searched
for each: on SQLite the bytes of the file and its WAL (free pages included, so a secret written
and later overwritten is still found); on PostgreSQL every row of every table as text.

A positive control proves the scan sees the tables the secrets would be in (the sealed tokens, the
API token hashes, the vendor's user id), so it cannot pass by reading nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from tests.conftest import SECRET, Harness
from tests.fakes import in_process
from tests.fakes.google import FakeGoogle
from tests.fakes.oura import FakeOura, sleep_doc
from tests.fakes.whoop import FakeWhoop

from perfhub.app import create_app
from perfhub.auth.service import hash_token
from perfhub.core.db import session_scope
from perfhub.settings import Settings
from perfhub.wearables.backfill import reconcile_all
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.vendors.registry import http_client, use_http_client

pytestmark = pytest.mark.backends("sqlite", "postgres")


Fake = FakeOura | FakeWhoop | FakeGoogle


class Secrets:
    """Every secret seen, by a label that names its kind (never printed with its value)."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def add(self, label: str, value: str | None) -> None:
        if value:
            self.found.setdefault(value, label)

    def harvest(self, fake: Fake) -> None:
        """What a fake has issued and what was presented to it so far (rotation forgets the old)."""
        for token in fake.oauth.access_tokens:
            self.add(f"{fake.name} access token", token)
        for token in fake.oauth.refresh_tokens:
            self.add(f"{fake.name} refresh token", token)
        for request in fake.requests:
            for key in ("refresh_token", "code", "code_verifier", "client_secret"):
                self.add(f"{fake.name} {key}", request.form.get(key))
            self.add(f"{fake.name} OAuth state", request.params.get("state"))
            authorization = request.headers.get("authorization", "")
            if authorization.lower().startswith("bearer "):
                self.add(f"{fake.name} access token (presented)", authorization[7:].strip())


def by_host(apps: dict[str, Any]) -> Any:
    """One ASGI app in front of several fakes, chosen by the request's host."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        host = dict(scope.get("headers") or []).get(b"host", b"").decode().partition(":")[0]
        await apps[host](scope, receive, send)

    return app


@dataclass
class Fakes:
    oura: FakeOura
    whoop: FakeWhoop
    google: FakeGoogle

    def all(self) -> list[Fake]:
        return [self.oura, self.whoop, self.google]


@pytest.fixture
def fakes() -> Fakes:
    # Client secrets of this run only, so that nothing else in the database can match them.
    return Fakes(
        oura=FakeOura(client_secret=f"oura-cs-{secrets.token_hex(12)}"),
        whoop=FakeWhoop(client_secret=f"whoop-cs-{secrets.token_hex(12)}"),
        google=FakeGoogle(client_secret=f"google-cs-{secrets.token_hex(12)}", rotate_refresh_tokens=True),
    )


@pytest.fixture
def vendors_harness(settings: Settings, fakes: Fakes) -> Iterator[Harness]:
    update: dict[str, Any] = {"oura_webhook_verification_token": SecretStr(f"verify-{secrets.token_hex(12)}")}
    for fake in fakes.all():
        config = fake.config(f"http://fake-{fake.name}")
        update |= {
            f"{fake.name}_client_id": fake.client_id,
            f"{fake.name}_client_secret": SecretStr(fake.client_secret),
            f"{fake.name}_authorize_url": config.authorize_url,
            f"{fake.name}_token_url": config.token_url,
            f"{fake.name}_api_base": config.api_base,
        }
    app = create_app(settings.model_copy(update=update))
    router = by_host({f"fake-{fake.name}": fake.app for fake in fakes.all()})
    with in_process(router) as vendor_http, TestClient(app) as client:
        use_http_client(vendor_http)
        try:
            yield Harness(client, app.state.runtime)
        finally:
            use_http_client(None)


def link(harness: Harness, fake: Fake, vendor_user: str, athlete: dict[str, Any]) -> None:
    fake.oauth.authorize_as = vendor_user
    response = harness.client.post(f"/api/v1/connections/{fake.name}/link", headers=athlete["headers"])
    assert response.status_code == 201, response.text
    consent = http_client().get(response.json()["authUrl"])
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    callback = harness.client.get(
        f"/api/v1/connections/{fake.name}/callback",
        params={"code": query["code"][0], "state": query["state"][0]},
    )
    assert callback.status_code == 200, callback.text
    harness.drain()


def expire_all(harness: Harness) -> None:
    with session_scope(harness.runtime.sessions) as session:
        for connection in session.scalars(select(VendorConnection)):
            connection.expires_at = datetime.now(UTC) - timedelta(minutes=1)


def database_text(settings: Settings) -> bytes:
    """Everything the database holds, as bytes to search."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(file.read_bytes() for file in files if file.exists())
    chunks: list[bytes] = []
    with psycopg.connect(url) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
        assert "vendor_connection" in tables and "api_token" in tables, tables
        for table in tables:
            for (text,) in conn.execute(f'SELECT t::text FROM "{table}" t'):  # names from the catalog
                chunks.append(text.encode())
    return b"\n".join(chunks)


def test_no_secret_is_stored_in_the_clear(vendors_harness: Harness, fakes: Fakes, settings: Settings) -> None:
    harness = vendors_harness
    app_settings: Settings = harness.client.app.state.settings
    found = Secrets()
    athlete, coach, admin = harness.user(), harness.user("coach"), harness.user("admin")
    for person in (athlete, coach, admin):
        found.add("API token (user)", person["token"])
    found.add("API token (service)", harness.service_token()["Authorization"][7:])

    # API tokens issued and rotated over the API.
    issued = harness.client.post(
        "/api/v1/tokens", json={"name": "laptop", "expiresInDays": 30}, headers=athlete["headers"]
    ).json()
    found.add("API token (issued)", issued["token"])
    rotated = harness.client.post(
        f"/api/v1/tokens/{issued['id']}/rotate", json={"graceMinutes": 10}, headers=athlete["headers"]
    ).json()
    found.add("API token (rotated)", rotated["token"])
    service = harness.client.post(
        "/api/v1/tokens", json={"name": "bridge", "scopes": ["ingest"]}, headers=admin["headers"]
    ).json()
    found.add("API token (service, issued)", service["token"])

    # A real link to each vendor, with data fetched by the link's backfill.
    oura, whoop, google = fakes.oura, fakes.whoop, fakes.google
    oura_user = oura.add_user()
    today = datetime.now(UTC).date()
    oura.put(oura_user, "sleep", sleep_doc((today - timedelta(days=1)).isoformat(), id="s-1"))
    link(harness, oura, oura_user, athlete)
    link(harness, whoop, str(whoop.add_user()), athlete)
    link(harness, google, "g-user-1", athlete)
    for fake in fakes.all():
        found.harvest(fake)

    # Refresh every link (refresh tokens rotate at Oura, WHOOP and here Google) ...
    expire_all(harness)
    reconcile_all(harness.runtime.sessions, app_settings)
    harness.drain()
    for fake in fakes.all():
        found.harvest(fake)
    # ... then Oura refuses a refresh (the athlete revoked perfhub there): the failure is recorded.
    oura.oauth.revoke_refresh_tokens()
    expire_all(harness)
    reconcile_all(harness.runtime.sessions, app_settings)
    harness.drain()
    # And WHOOP is unlinked (its tokens are dropped).
    assert harness.client.delete("/api/v1/connections/whoop", headers=athlete["headers"]).status_code == 204
    for fake in fakes.all():
        found.harvest(fake)
        found.add(f"{fake.name} client secret", fake.client_secret)
    token = app_settings.oura_webhook_verification_token
    found.add("Oura webhook verification token", token.get_secret_value() if token else None)
    found.add("PERFHUB_SECRET_KEY", SECRET)

    kinds = set(found.found.values())
    for vendor in ("oura", "whoop", "google"):
        assert {f"{vendor} access token", f"{vendor} refresh token", f"{vendor} OAuth state"} <= kinds, kinds
    assert "google code_verifier" in kinds and len(found.found) >= 30

    dump = database_text(settings)
    # Positive control: the scan reads the rows the secrets would be in.
    with harness.runtime.sessions() as session:
        sealed = [
            value
            for connection in session.scalars(select(VendorConnection))
            for value in (connection.access_token, connection.refresh_token)
            if value
        ]
    assert len(sealed) >= 3 and all(value.encode() in dump for value in sealed)
    assert hash_token(athlete["token"]).encode() in dump and oura_user.encode() in dump

    leaked = sorted({label for value, label in found.found.items() if value.encode() in dump})
    assert not leaked, f"stored in the clear: {', '.join(leaked)}"
