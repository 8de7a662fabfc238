"""Link → webhook → canonical data, against the Oura fake built from docs/vendors.md."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from tests.conftest import Harness
from tests.fakes.oura import FakeOura, signed_delivery, sleep_doc, webhook_payload
from tests.wearables.conftest import VendorApp, link_athlete

from perfhub.settings import Settings
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.vendors.registry import use_http_client

pytestmark = pytest.mark.backends("sqlite", "postgres")

DAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


@pytest.fixture
def fake() -> FakeOura:
    return FakeOura()


@pytest.fixture
def oura_harness(vendor_app: VendorApp, fake: FakeOura) -> Iterator[Harness]:
    with vendor_app(fake, oura_webhook_verification_token=SecretStr("verify-me")) as harness:
        yield harness


def link(harness: Harness, fake: FakeOura, athlete: dict[str, Any]) -> str:
    oura_user = fake.add_user()
    linked = link_athlete(harness, fake, athlete, oura_user)  # the athlete consents at Oura
    assert linked.callback.json() == {"vendor": "oura", "status": "linked"}
    again = harness.client.get("/api/v1/connections/oura/callback", params=linked.query)
    assert again.status_code == 400  # single use
    # The link queued a history backfill (nothing at the fake yet): let it finish, so that it
    # does not race what each test does next.
    harness.drain()
    return oura_user


def deliver(harness: Harness, fake: FakeOura, payload: dict[str, str], timestamp: float | None = None) -> int:
    headers, body = signed_delivery(payload, fake.client_secret, int(timestamp or time.time()))
    return harness.client.post("/api/v1/webhooks/oura", content=body, headers=headers).status_code


def test_link_webhook_and_data_visible(oura_harness: Harness, fake: FakeOura) -> None:
    harness = oura_harness
    athlete = harness.user()
    oura_user = link(harness, fake, athlete)
    listed = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
    assert [(c["vendor"], c["status"]) for c in listed] == [("oura", "linked")]
    assert set(listed[0]) == {"vendor", "status", "linkedAt", "lastSyncAt", "reason", "revokedAt", "backfill"}
    assert listed[0]["reason"] is None and listed[0]["revokedAt"] is None
    assert listed[0]["backfill"]["status"] == "done" and listed[0]["backfill"]["records"] == 0
    with harness.runtime.sessions() as session:
        stored = session.scalars(select(VendorConnection)).one()
        assert stored.vendor_user_id == oura_user and "oura" not in (stored.access_token or "oura")
    record = fake.put(oura_user, "sleep", sleep_doc(DAY, id="s-1", average_hrv=61.0, lowest_heart_rate=47))
    payload = webhook_payload("create", "sleep", record["id"], oura_user)
    assert deliver(harness, fake, payload) == 202
    assert deliver(harness, fake, payload) == 202  # a repeat is deduplicated, not applied twice
    harness.drain()
    rows = harness.client.get(
        "/api/v1/hrv/daily", params={"from": DAY, "to": DAY}, headers=athlete["headers"]
    ).json()
    assert [(r["vendor"], r["rMSSD"], r["restingHr"]) for r in rows] == [("oura", 61.0, 47)]
    sleep = harness.client.get(
        "/api/v1/sleep/summary", params={"from": DAY, "to": DAY}, headers=athlete["headers"]
    ).json()
    assert sleep and sleep[0]["durationMin"] == 450  # 27,000 s of sleep → minutes


def test_forged_and_stale_webhooks_are_401(oura_harness: Harness, fake: FakeOura) -> None:
    harness = oura_harness
    athlete = harness.user()
    oura_user = link(harness, fake, athlete)
    payload = webhook_payload("update", "sleep", "s-9", oura_user)
    headers, body = signed_delivery(payload, "not-the-secret", int(time.time()))
    assert harness.client.post("/api/v1/webhooks/oura", content=body, headers=headers).status_code == 401
    assert deliver(harness, fake, payload, timestamp=time.time() - 600) == 401
    assert harness.client.post("/api/v1/webhooks/oura", content=b"{}").status_code == 401


def test_handshake_and_unconfigured_vendor(oura_harness: Harness) -> None:
    harness = oura_harness
    ok = harness.client.get(
        "/api/v1/webhooks/oura", params={"verification_token": "verify-me", "challenge": "c1"}
    )
    assert ok.status_code == 200 and ok.json() == {"challenge": "c1"}
    bad = harness.client.get(
        "/api/v1/webhooks/oura", params={"verification_token": "nope", "challenge": "c1"}
    )
    assert bad.status_code == 401
    athlete = harness.user()
    assert (
        harness.client.post("/api/v1/connections/whoop/link", headers=athlete["headers"]).status_code == 409
    )
    assert (
        harness.client.get(
            "/api/v1/connections/oura/callback", params={"code": "x", "state": "forged-state-value"}
        ).status_code
        == 400
    )


def test_unlink_stops_ingest_at_once(oura_harness: Harness, fake: FakeOura) -> None:
    harness = oura_harness
    athlete = harness.user()
    oura_user = link(harness, fake, athlete)
    assert harness.client.delete("/api/v1/connections/oura", headers=athlete["headers"]).status_code == 204
    listed = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
    assert [(c["status"], c["reason"]) for c in listed] == [("revoked", "unlinked")]
    record = fake.put(oura_user, "sleep", sleep_doc(DAY, id="s-2"))
    assert deliver(harness, fake, webhook_payload("create", "sleep", record["id"], oura_user)) == 202
    harness.drain()
    assert (
        harness.client.get(
            "/api/v1/hrv/daily", params={"from": DAY, "to": DAY}, headers=athlete["headers"]
        ).json()
        == []
    )
    with harness.runtime.sessions() as session:
        stored = session.scalars(select(VendorConnection)).one()
        assert stored.access_token is None and stored.refresh_token is None
    assert harness.client.delete("/api/v1/connections/oura", headers=athlete["headers"]).status_code == 404


def _connection(harness: Harness) -> VendorConnection:
    with harness.runtime.sessions() as session:
        return session.scalars(select(VendorConnection)).one()


def _expire_now(harness: Harness) -> None:
    from perfhub.core.db import session_scope

    with session_scope(harness.runtime.sessions) as session:
        session.scalars(select(VendorConnection)).one().expires_at = datetime.now(UTC)


def test_expired_token_is_refreshed_with_rotation_then_relink_when_refused(
    oura_harness: Harness, fake: FakeOura
) -> None:
    from perfhub.wearables.backfill import reconcile_all

    harness = oura_harness
    athlete = harness.user()
    oura_user = link(harness, fake, athlete)
    fake.put(oura_user, "sleep", sleep_doc(DAY, id="s-5", average_hrv=52.0))
    before = _connection(harness)
    _expire_now(harness)
    settings = harness.client.app.state.settings
    assert reconcile_all(harness.runtime.sessions, settings) >= 1  # refreshed, then fetched
    after = _connection(harness)
    assert after.status == "linked" and after.refresh_token != before.refresh_token  # rotated and kept
    harness.drain()
    rows = harness.client.get(
        "/api/v1/hrv/daily", params={"from": DAY, "to": DAY}, headers=athlete["headers"]
    )
    assert [r["rMSSD"] for r in rows.json()] == [52.0]
    fake.oauth.revoke_refresh_tokens()  # the athlete revoked perfhub at Oura
    _expire_now(harness)
    reconcile_all(harness.runtime.sessions, settings)
    listed = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
    assert [(c["status"], c["reason"]) for c in listed] == [("needs_relink", "refresh_refused")]


@pytest.mark.backends("sqlite")  # the CLI path is the same on PostgreSQL
def test_backfill_cli_over_http(settings: Settings, fake: FakeOura, tmp_path: Path, backend: str) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import SECRET
    from tests.fakes import serve

    from perfhub.auth.service import create_user
    from perfhub.core.crypto import SecretBox
    from perfhub.core.db import session_scope
    from perfhub.core.migrate import upgrade
    from perfhub.pipeline.runtime import Runtime

    upgrade(settings.database_url)
    runtime = Runtime.build(settings)
    oura_user = fake.add_user()
    # The CLI runs in its own process at the real hour, so only nights that are over by any
    # clock: the newest woke up yesterday (UTC), never a night still in the future.
    last_night = datetime.now(UTC).date() - timedelta(days=1)
    for back in range(10):
        day = (last_night - timedelta(days=back)).isoformat()
        fake.put(oura_user, "sleep", sleep_doc(day, id=f"n-{back}", average_hrv=40.0 + back))
    with session_scope(runtime.sessions) as session:
        athlete, _ = create_user(session, "backfill@example.org", "athlete")
        session.add(
            VendorConnection(
                user_id=athlete.id,
                vendor="oura",
                status="linked",
                vendor_user_id=oura_user,
                access_token=SecretBox(SECRET).seal(fake.oauth.issue_for_test(oura_user)),
                expires_at=datetime.now(UTC) + timedelta(hours=20),
            )
        )
    runtime.close()
    with serve(fake.app) as base_url:
        env = {
            **os.environ,
            "PERFHUB_DATABASE_URL": settings.database_url,
            "PERFHUB_SECRET_KEY": SECRET,
            "PERFHUB_VAR_DIR": str(tmp_path),
            "PERFHUB_OURA_CLIENT_ID": fake.client_id,
            "PERFHUB_OURA_CLIENT_SECRET": fake.client_secret,
            "PERFHUB_OURA_API_BASE": base_url,
            "PERFHUB_OURA_TOKEN_URL": f"{base_url}/oauth/token",
        }
        env.pop("PERFHUB_NATS_URL", None)

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "perfhub.cli", *args],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )

        start = (last_night - timedelta(days=9)).isoformat()
        ten_nights = ("backfill", "--user", "backfill@example.org", "--vendor", "oura")
        ten_nights += ("--from", start, "--to", last_night.isoformat())
        result = cli(*ten_nights)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["records"] == 10
        fake.outage_next(50, 503)  # a long outage: retries run out, one clear line
        down = cli(*ten_nights)
        assert down.returncode == 1 and "oura" in down.stderr.splitlines()[-1]
        bad = cli(
            "backfill", "--user", "backfill@example.org", "--vendor", "fitbit", "--from", start, "--to", start
        )
        assert bad.returncode == 2
    import sqlite3

    with sqlite3.connect(settings.database_url.split("///", 1)[1]) as conn:
        assert conn.execute("SELECT count(*) FROM hrv_daily WHERE vendor = 'oura'").fetchone()[0] == 10


def test_reconciliation_keeps_oura_subscriptions(oura_harness: Harness, fake: FakeOura) -> None:
    from perfhub.wearables.backfill import ensure_oura_subscriptions

    settings = oura_harness.client.app.state.settings
    fake.callback_http = oura_harness.client  # Oura's handshake reaches our webhook endpoint
    # (create, update, delete) × (sleep, daily_readiness, workout)
    assert ensure_oura_subscriptions(settings) == 9
    assert ensure_oura_subscriptions(settings) == 9  # idempotent: nothing new
    assert len(fake.subscriptions) == 9
    assert {s["callback_url"] for s in fake.subscriptions.values()} == {
        settings.base_url + "/api/v1/webhooks/oura"
    }


def test_vendor_outage_retries_then_dead_letters(oura_harness: Harness, fake: FakeOura) -> None:
    from perfhub.core.outbox import DeadLetter
    from perfhub.wearables.backfill import reconcile_all

    harness = oura_harness
    athlete = harness.user()
    oura_user = link(harness, fake, athlete)
    from perfhub.wearables.vendors.http import RetryPolicy
    from perfhub.wearables.vendors.registry import use_retry_policy

    harness.runtime.bus.stop()
    harness.runtime.bus.base_backoff_s = 0.0
    use_retry_policy(RetryPolicy(sleep=lambda _s: None))  # waits are the policy's business, not this test's
    fake.outage_next(10_000, 503)  # Oura down for longer than any retry budget
    assert deliver(harness, fake, webhook_payload("update", "sleep", "s-7", oura_user)) == 202  # still fast
    harness.drain()
    reconcile_all(harness.runtime.sessions, harness.client.app.state.settings)
    with harness.runtime.sessions() as session:
        dead = {d.consumer: d for d in session.scalars(select(DeadLetter))}
    assert set(dead) == {"ingest", "reconcile"}
    # The client's retries are spent within the delivery, which dead-letters it in its own
    # transaction (keeping any token refreshed on the way; see the test below).
    assert dead["ingest"].attempts == 1 and "503" in dead["ingest"].reason
    assert dead["ingest"].user_id == athlete["id"]
    use_retry_policy(None)


@contextmanager
def oura_data_down() -> Iterator[list[bool]]:
    """Oura's data endpoints answer 503 while the yielded flag is set (its OAuth still works), and
    the client's retries do not wait."""
    from perfhub.wearables.vendors.http import RetryPolicy
    from perfhub.wearables.vendors.registry import http_client, use_retry_policy

    vendor_http, data_down = http_client(), [True]

    def route(request: httpx.Request) -> httpx.Response:
        if data_down[0] and "/usercollection/" in request.url.path:
            return httpx.Response(503, json={"error": "temporarily unavailable"})
        return vendor_http.send(request)

    use_http_client(httpx.Client(transport=httpx.MockTransport(route)))
    use_retry_policy(RetryPolicy(sleep=lambda _s: None))
    try:
        yield data_down
    finally:
        use_http_client(vendor_http)
        use_retry_policy(None)


def test_a_token_refreshed_before_a_failed_fetch_is_kept(oura_harness: Harness, fake: FakeOura) -> None:
    """Oura rotates refresh tokens: once it has answered a refresh, the old one is dead. A poll
    that refreshed and then failed to fetch must still keep the new tokens, or the next poll
    presents the dead one and the athlete has to relink."""
    from perfhub.wearables.backfill import reconcile_all

    harness = oura_harness
    athlete = harness.user()
    oura_user = link(harness, fake, athlete)
    fake.put(oura_user, "sleep", sleep_doc(DAY, id="s-11", average_hrv=57.0))
    _expire_now(harness)
    settings = harness.client.app.state.settings
    with oura_data_down() as data_down:
        assert reconcile_all(harness.runtime.sessions, settings) == 0  # refreshed, then Oura was down
        data_down[0] = False
        assert reconcile_all(harness.runtime.sessions, settings) == 1
    listed = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
    assert [c["status"] for c in listed] == ["linked"]


def test_a_token_refreshed_before_a_failed_webhook_fetch_is_kept(
    oura_harness: Harness, fake: FakeOura
) -> None:
    """The same as above for a webhook: the ingest stage refreshes, then Oura fails the fetch.
    The delivery is dead-lettered and the rotated refresh token kept, so replaying it works
    with no relink (before, the handler's transaction rolled the new token back)."""
    from perfhub.core.db import session_scope
    from perfhub.core.outbox import DeadLetter, replay_dead_letters

    harness = oura_harness
    athlete = harness.user()
    oura_user = link(harness, fake, athlete)
    record = fake.put(oura_user, "sleep", sleep_doc(DAY, id="s-12", average_hrv=58.0))
    before = _connection(harness)
    _expire_now(harness)
    with oura_data_down() as data_down:
        assert deliver(harness, fake, webhook_payload("create", "sleep", record["id"], oura_user)) == 202
        harness.drain()
        after = _connection(harness)
        assert after.status == "linked" and after.refresh_token != before.refresh_token  # rotated, kept
        with harness.runtime.sessions() as session:
            (dead,) = session.scalars(select(DeadLetter)).all()
        assert dead.consumer == "ingest" and "503" in dead.reason and dead.user_id == athlete["id"]
        data_down[0] = False
        _expire_now(harness)  # the next call must refresh with the token kept above
        with session_scope(harness.runtime.sessions) as session:
            assert len(replay_dead_letters(session, dead.id)) == 1
        harness.drain()
    listed = harness.client.get("/api/v1/connections", headers=athlete["headers"]).json()
    assert [c["status"] for c in listed] == ["linked"]
    rows = harness.client.get(
        "/api/v1/hrv/daily", params={"from": DAY, "to": DAY}, headers=athlete["headers"]
    ).json()
    assert [r["rMSSD"] for r in rows] == [58.0]
