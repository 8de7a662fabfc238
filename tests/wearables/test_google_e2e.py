"""Google Health: link with PKCE, then polling (the reliable path) brings daily HRV, resting HR
and sleep in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.fakes.google import FakeGoogle, daily_hrv_point, daily_resting_hr_point, sleep_point
from tests.wearables.conftest import VendorApp, link_athlete

from perfhub.wearables.backfill import reconcile_all

pytestmark = pytest.mark.backends("sqlite")


def test_link_with_pkce_then_poll(vendor_app: VendorApp) -> None:
    fake = FakeGoogle()
    with vendor_app(fake) as harness:
        client = harness.client
        athlete = harness.user(tz="Europe/Berlin")
        linked = link_athlete(harness, fake, athlete, "g-user-1")
        assert "code_challenge=" in linked.auth_url and "code_challenge_method=S256" in linked.auth_url
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
        assert reconcile_all(harness.runtime.sessions, client.app.state.settings) == 6
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
