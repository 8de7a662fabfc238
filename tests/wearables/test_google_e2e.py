"""Google Health: link with PKCE, then polling (the reliable path) brings daily HRV, resting HR
and sleep in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.conftest import Harness
from tests.fakes import in_process
from tests.fakes.google import FakeGoogle, daily_hrv_point, daily_resting_hr_point, sleep_point

from perfhub.app import create_app
from perfhub.settings import Settings
from perfhub.wearables.backfill import reconcile_all
from perfhub.wearables.vendors.registry import http_client, use_http_client

pytestmark = pytest.mark.backends("sqlite")


def test_link_with_pkce_then_poll(settings: Settings) -> None:
    fake = FakeGoogle()
    config = fake.config("http://fake-google")
    configured = settings.model_copy(
        update={
            "google_client_id": fake.client_id,
            "google_client_secret": SecretStr(fake.client_secret),
            "google_authorize_url": config.authorize_url,
            "google_token_url": config.token_url,
            "google_api_base": config.api_base,
        }
    )
    app = create_app(configured)
    with in_process(fake) as vendor_http, TestClient(app) as client:
        use_http_client(vendor_http)
        try:
            harness = Harness(client, app.state.runtime)
            athlete = harness.user(tz="Europe/Berlin")
            fake.oauth.authorize_as = "g-user-1"
            auth_url = client.post("/api/v1/connections/google/link", headers=athlete["headers"]).json()[
                "authUrl"
            ]
            assert "code_challenge=" in auth_url and "code_challenge_method=S256" in auth_url
            consent = http_client().get(auth_url)
            query = parse_qs(urlsplit(consent.headers["location"]).query)
            linked = client.get(
                "/api/v1/connections/google/callback",
                params={"code": query["code"][0], "state": query["state"][0]},
            )
            assert linked.status_code == 200, linked.text
            today = datetime.now(UTC).date()
            for back in range(3):
                day = today - timedelta(days=back)
                fake.put(
                    "g-user-1",
                    "daily-heart-rate-variability",
                    daily_hrv_point("g-user-1", day.isoformat(), average=40.0 + back),
                )
                fake.put(
                    "g-user-1",
                    "daily-resting-heart-rate",
                    daily_resting_hr_point("g-user-1", day.isoformat(), bpm=50 + back),
                )
                # Berlin in winter or summer: the night ends at 06:30 local either way.
                offset = int(
                    datetime.combine(day, datetime.min.time(), ZoneInfo("Europe/Berlin"))
                    .utcoffset()
                    .total_seconds()
                )
                fake.put(
                    "g-user-1",
                    "sleep",
                    sleep_point(
                        "g-user-1",
                        start=f"{day - timedelta(days=1)}T23:00",
                        end=f"{day}T06:30",
                        utc_offset_s=offset,
                        minutes_awake=30 + back,
                    ),
                )
                # An afternoon nap the same day never becomes the night.
                fake.put(
                    "g-user-1",
                    "sleep",
                    sleep_point(
                        "g-user-1", start=f"{day}T14:00", end=f"{day}T15:00", utc_offset_s=offset, nap=True
                    ),
                )
            # Three days of HRV + resting HR (one record each) and three nights.
            assert reconcile_all(harness.runtime.sessions, configured) == 6
            harness.drain()
            since = {"from": (today - timedelta(days=5)).isoformat()}
            rows = client.get("/api/v1/hrv/daily", params=since, headers=athlete["headers"]).json()
            assert [(r["vendor"], r["rMSSD"], r["restingHr"], r["vendorCalibrating"]) for r in rows] == [
                ("google", 42.0, 52.0, None),
                ("google", 41.0, 51.0, None),
                ("google", 40.0, 50.0, None),
            ]
            nights = client.get("/api/v1/sleep/summary", params=since, headers=athlete["headers"]).json()
            assert [(n["date"], n["durationMin"]) for n in nights] == [
                ((today - timedelta(days=back)).isoformat(), 420.0 - back) for back in (2, 1, 0)
            ]
            listed = client.get("/api/v1/connections", headers=athlete["headers"]).json()
            assert listed[0]["lastSyncAt"] is not None
        finally:
            use_http_client(None)
