"""WHOOP end to end: link, a recovery webhook (sleep → cycle → recovery), data in the API; an
impossible night's sleep dead-lettered while its recovery comes through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from tests.conftest import Harness
from tests.fakes import in_process
from tests.fakes.whoop import FakeWhoop, signed_delivery, webhook_payload

from perfhub.app import create_app
from perfhub.core.outbox import DeadLetter
from perfhub.settings import Settings
from perfhub.wearables.vendors.registry import http_client, use_http_client

pytestmark = pytest.mark.backends("sqlite", "postgres")


@pytest.fixture
def fake() -> FakeWhoop:
    return FakeWhoop()


@pytest.fixture
def whoop_harness(settings: Settings, fake: FakeWhoop) -> Iterator[Harness]:
    config = fake.config("http://fake-whoop")
    configured = settings.model_copy(
        update={
            "whoop_client_id": fake.client_id,
            "whoop_client_secret": SecretStr(fake.client_secret),
            "whoop_authorize_url": config.authorize_url,
            "whoop_token_url": config.token_url,
            "whoop_api_base": config.api_base,
        }
    )
    app = create_app(configured)
    with in_process(fake) as vendor_http, TestClient(app) as client:
        use_http_client(vendor_http)
        try:
            yield Harness(client, app.state.runtime)
        finally:
            use_http_client(None)


def link(harness: Harness, fake: FakeWhoop, athlete: dict[str, object]) -> int:
    whoop_user = fake.add_user()
    fake.oauth.authorize_as = str(whoop_user)
    auth_url = harness.client.post("/api/v1/connections/whoop/link", headers=athlete["headers"]).json()[
        "authUrl"
    ]
    assert len(parse_qs(urlsplit(auth_url).query)["state"][0]) >= 8  # WHOOP wants 8+ characters
    consent = http_client().get(auth_url)
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    linked = harness.client.get(
        "/api/v1/connections/whoop/callback", params={"code": query["code"][0], "state": query["state"][0]}
    )
    assert linked.status_code == 200, linked.text
    harness.drain()
    return whoop_user


def test_recovery_webhook_resolves_via_sleep_and_cycle(whoop_harness: Harness, fake: FakeWhoop) -> None:
    harness = whoop_harness
    athlete = harness.user(tz="America/New_York")
    whoop_user = link(harness, fake, athlete)
    # A night crossing midnight UTC in UTC-5: the wake date is the local date of the end.
    wake = datetime.now(UTC).replace(hour=11, minute=30, second=0, microsecond=0) - timedelta(days=1)
    night = fake.add_night(
        whoop_user,
        start=(wake - timedelta(hours=8)).isoformat().replace("+00:00", "Z"),
        end=wake.isoformat().replace("+00:00", "Z"),
        timezone_offset="-05:00",
    )
    payload = webhook_payload("recovery.updated", night["sleep"]["id"], whoop_user)
    headers, body = signed_delivery(payload, fake.client_secret, int(time.time() * 1000))
    response = harness.client.post("/api/v1/webhooks/whoop", content=body, headers=headers)
    assert response.status_code == 202, response.text
    again = harness.client.post("/api/v1/webhooks/whoop", content=body, headers=headers)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"  # same trace_id
    harness.drain()
    day = (wake - timedelta(hours=5)).date().isoformat()
    rows = harness.client.get(
        "/api/v1/hrv/daily", params={"from": day, "to": day}, headers=athlete["headers"]
    ).json()
    score = night["recovery"]["score"]
    assert [(r["vendor"], r["rMSSD"], r["restingHr"]) for r in rows] == [
        ("whoop", pytest.approx(score["hrv_rmssd_milli"]), score["resting_heart_rate"])
    ]
    deleted = webhook_payload("recovery.deleted", night["sleep"]["id"], whoop_user)
    del_headers, del_body = signed_delivery(deleted, fake.client_secret, int(time.time() * 1000))
    assert (
        harness.client.post("/api/v1/webhooks/whoop", content=del_body, headers=del_headers).status_code
        == 202
    )
    harness.drain()
    gone = harness.client.get(
        "/api/v1/hrv/daily", params={"from": day, "to": day}, headers=athlete["headers"]
    )
    assert gone.json() == []  # the deleted recovery's day is removed
    stale_headers, stale_body = signed_delivery(payload, fake.client_secret, int((time.time() - 900) * 1000))
    assert (
        harness.client.post("/api/v1/webhooks/whoop", content=stale_body, headers=stale_headers).status_code
        == 401
    )
    assert harness.client.delete("/api/v1/connections/whoop", headers=athlete["headers"]).status_code == 204
    assert fake.calls("/v2/user/access"), "unlinking revokes at WHOOP"


def test_an_impossible_night_keeps_its_recovery_and_dead_letters_its_sleep(
    whoop_harness: Harness, fake: FakeWhoop
) -> None:
    harness = whoop_harness
    athlete = harness.user(tz="America/New_York")
    whoop_user = link(harness, fake, athlete)
    wake = datetime.now(UTC).replace(hour=11, minute=30, second=0, microsecond=0) - timedelta(days=1)
    # Stages adding up to 0 minutes next to 420 minutes in bed at 91 %, in the athlete's first
    # week (WHOOP still calibrating its scores).
    night = fake.add_night(
        whoop_user,
        start=(wake - timedelta(hours=7)).isoformat().replace("+00:00", "Z"),
        end=wake.isoformat().replace("+00:00", "Z"),
        light_ms=0,
        slow_wave_ms=0,
        rem_ms=0,
        awake_ms=0,
        in_bed_ms=25_200_000,
        efficiency=91.0,
        user_calibrating=True,
    )
    for kind in ("sleep", "recovery"):
        payload = webhook_payload(f"{kind}.updated", night["sleep"]["id"], whoop_user)
        headers, body = signed_delivery(payload, fake.client_secret, int(time.time() * 1000))
        assert harness.client.post("/api/v1/webhooks/whoop", content=body, headers=headers).status_code == 202
    harness.drain()
    day = (wake - timedelta(hours=5)).date().isoformat()
    params = {"from": day, "to": day}
    rows = harness.client.get("/api/v1/hrv/daily", params=params, headers=athlete["headers"]).json()
    assert [(r["rMSSD"], r["restingHr"], r["vendorCalibrating"]) for r in rows] == [
        (pytest.approx(61.3), 52.0, True)
    ]
    assert harness.client.get("/api/v1/sleep/summary", params=params, headers=athlete["headers"]).json() == []
    with harness.runtime.sessions() as session:
        [letter] = session.scalars(select(DeadLetter)).all()
    assert letter.user_id == athlete["id"]
    assert "420 min in bed at 91 % efficiency means about 382 min asleep" in letter.reason
    assert letter.payload["refused"]["signal"] == "sleep" and letter.payload["refused"]["date"] == day
