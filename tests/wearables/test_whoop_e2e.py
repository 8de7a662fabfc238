"""WHOOP end to end: link, a recovery webhook (sleep → cycle → recovery), data in the API; an
impossible night's sleep dead-lettered while its recovery comes through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import Harness
from tests.fakes.whoop import FakeWhoop, signed_delivery, webhook_payload
from tests.wearables.conftest import VendorApp, link_athlete

from perfhub.core.outbox import DeadLetter

pytestmark = pytest.mark.backends("sqlite", "postgres")


@pytest.fixture
def fake() -> FakeWhoop:
    return FakeWhoop()


@pytest.fixture
def whoop_harness(vendor_app: VendorApp, fake: FakeWhoop) -> Iterator[Harness]:
    with vendor_app(fake) as harness:
        yield harness


def link(harness: Harness, fake: FakeWhoop, athlete: dict[str, Any]) -> int:
    whoop_user = fake.add_user()
    linked = link_athlete(harness, fake, athlete, whoop_user)
    assert len(linked.query["state"]) >= 8  # WHOOP wants 8+ characters
    harness.drain()
    return whoop_user


def last_night(fake: FakeWhoop, whoop_user: int, hours: int, **fields: Any) -> tuple[dict[str, Any], str]:
    """A night of ``hours`` that ended yesterday at 11:30 UTC, and its wake date in UTC-5."""
    wake = datetime.now(UTC).replace(hour=11, minute=30, second=0, microsecond=0) - timedelta(days=1)
    night = fake.add_night(
        whoop_user,
        start=(wake - timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
        end=wake.isoformat().replace("+00:00", "Z"),
        **fields,
    )
    return night, (wake - timedelta(hours=5)).date().isoformat()


def deliver(
    harness: Harness, fake: FakeWhoop, payload: dict[str, Any], at_ms: int | None = None
) -> httpx.Response:
    """POST a delivery signed as WHOOP does, sent at ``at_ms`` (now by default)."""
    stamp = int(time.time() * 1000) if at_ms is None else at_ms
    headers, body = signed_delivery(payload, fake.client_secret, stamp)
    return harness.client.post("/api/v1/webhooks/whoop", content=body, headers=headers)


def test_recovery_webhook_resolves_via_sleep_and_cycle(whoop_harness: Harness, fake: FakeWhoop) -> None:
    harness = whoop_harness
    athlete = harness.user(tz="America/New_York")
    whoop_user = link(harness, fake, athlete)
    # A night crossing midnight UTC in UTC-5: the wake date is the local date of the end.
    night, day = last_night(fake, whoop_user, 8, timezone_offset="-05:00")
    payload = webhook_payload("recovery.updated", night["sleep"]["id"], whoop_user)
    sent_ms = int(time.time() * 1000)
    response = deliver(harness, fake, payload, sent_ms)
    assert response.status_code == 202, response.text
    again = deliver(harness, fake, payload, sent_ms)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"  # same trace_id
    harness.drain()
    rows = harness.client.get(
        "/api/v1/hrv/daily", params={"from": day, "to": day}, headers=athlete["headers"]
    ).json()
    score = night["recovery"]["score"]
    assert [(r["vendor"], r["rMSSD"], r["restingHr"]) for r in rows] == [
        ("whoop", pytest.approx(score["hrv_rmssd_milli"]), score["resting_heart_rate"])
    ]
    deleted = webhook_payload("recovery.deleted", night["sleep"]["id"], whoop_user)
    assert deliver(harness, fake, deleted).status_code == 202
    harness.drain()
    gone = harness.client.get(
        "/api/v1/hrv/daily", params={"from": day, "to": day}, headers=athlete["headers"]
    )
    assert gone.json() == []  # the deleted recovery's day is removed
    assert deliver(harness, fake, payload, int((time.time() - 900) * 1000)).status_code == 401
    assert harness.client.delete("/api/v1/connections/whoop", headers=athlete["headers"]).status_code == 204
    assert fake.calls("/v2/user/access"), "unlinking revokes at WHOOP"


def test_an_impossible_night_keeps_its_recovery_and_dead_letters_its_sleep(
    whoop_harness: Harness, fake: FakeWhoop
) -> None:
    harness = whoop_harness
    athlete = harness.user(tz="America/New_York")
    whoop_user = link(harness, fake, athlete)
    # Stages adding up to 0 minutes next to 420 minutes in bed at 91 %, in the athlete's first
    # week (WHOOP still calibrating its scores).
    night, day = last_night(
        fake,
        whoop_user,
        7,
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
        assert deliver(harness, fake, payload).status_code == 202
    harness.drain()
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
