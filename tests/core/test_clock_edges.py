"""What reads the clock, at frozen instants around midnight in the zones furthest apart.

UTC-12 (``Etc/GMT+12``) and UTC+14 (``Pacific/Kiritimati``) are a whole calendar day apart for
two hours of every day; Kathmandu's +05:45 catches code that assumes whole-hour offsets.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from perfhub.app import create_app
from perfhub.auth.service import create_user, issue_token
from perfhub.core.dates import local_today
from perfhub.core.db import session_scope
from perfhub.settings import Settings

WEST, EAST, ODD = "Etc/GMT+12", "Pacific/Kiritimati", "Asia/Kathmandu"


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        ("2026-11-30T00:00:00+00:00", WEST, "2026-11-29"),
        ("2026-11-30T00:00:00+00:00", EAST, "2026-11-30"),
        ("2026-11-30T09:59:59+00:00", EAST, "2026-11-30"),
        ("2026-11-30T10:00:00+00:00", EAST, "2026-12-01"),
        ("2026-11-30T11:59:59+00:00", WEST, "2026-11-29"),
        ("2026-11-30T12:00:00+00:00", WEST, "2026-11-30"),
        ("2026-11-30T18:14:59+00:00", ODD, "2026-11-30"),
        ("2026-11-30T18:15:00+00:00", ODD, "2026-12-01"),
        ("2026-12-31T23:59:59+00:00", WEST, "2026-12-31"),
        ("2026-12-31T23:59:59+00:00", EAST, "2027-01-01"),
    ],
)
def test_local_today_at_the_date_line(instant: str, zone: str, expected: str) -> None:
    with time_machine.travel(datetime.fromisoformat(instant), tick=False):
        assert local_today(zone) == date.fromisoformat(expected)


pytestmark = pytest.mark.backends("sqlite")


class Clocked:
    """An embedded app whose every clock read sees ``now`` (ticking from there)."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.now = now

    def __enter__(self) -> Clocked:
        self.travel = time_machine.travel(self.now, tick=True)
        self.travel.start()
        self.client = TestClient(create_app(self.settings)).__enter__()
        self.runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        with session_scope(self.runtime.sessions) as session:
            self.ingest = {"Authorization": f"Bearer {issue_token(session, 'edge', None, ('ingest',))}"}
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)
        self.travel.stop()

    def athlete(self, tz: str) -> tuple[int, dict[str, str]]:
        with session_scope(self.runtime.sessions) as session:
            user, token = create_user(
                session, f"{tz.replace('/', '-').lower()}@example.org", "athlete", tz=tz
            )
            return user.id, {"Authorization": f"Bearer {token}"}

    def post_history(self, user_id: int, end: date, tz_offset: str, days: int = 30) -> Any:
        nights = [end - timedelta(days=back) for back in range(days - 1, -1, -1)]
        body = {
            "hrv": [
                {
                    "userId": user_id,
                    "date": day.isoformat(),
                    "rMSSD": round(60 * math.exp(0.04 * math.sin(i)), 1),
                    "restingHr": 50,
                    "vendor": "oura",
                    # Woke at 07:00 local on the wake date.
                    "capturedAt": f"{day.isoformat()}T07:00:00{tz_offset}",
                }
                for i, day in enumerate(nights)
            ],
            "sleep": [
                {"userId": user_id, "date": day.isoformat(), "durationMin": 470, "vendor": "oura"}
                for day in nights
            ],
        }
        response = self.client.post("/api/v1/ingest/batch", json=body, headers=self.ingest)
        self.runtime.bus.drain()
        return response


# At 20:00 UTC it is already 10:00 tomorrow on Kiritimati and still 08:00 today at UTC-12.
EDGE_INSTANTS = ["2026-11-30T20:00:00+00:00", "2026-11-30T23:59:30+00:00"]


@pytest.mark.parametrize("instant", EDGE_INSTANTS)
def test_ingest_accepts_each_zones_own_morning_and_refuses_the_day_after(
    settings: Settings, instant: str
) -> None:
    now = datetime.fromisoformat(instant)
    with Clocked(settings, now) as app:
        east_id, _ = app.athlete(EAST)
        west_id, _ = app.athlete(WEST)
        east_today = local_today(EAST, now)
        assert app.post_history(east_id, east_today, "+14:00", days=1).status_code == 202
        assert app.post_history(west_id, now.date(), "-12:00", days=1).status_code == 202
        too_late = east_today + timedelta(days=1)
        refused = app.client.post(
            "/api/v1/ingest/hrv",
            json={"userId": east_id, "date": too_late.isoformat(), "rMSSD": 50, "vendor": "oura"},
            headers=app.ingest,
        )
        assert refused.status_code == 422
        future_capture = app.client.post(
            "/api/v1/ingest/hrv",
            json={
                "userId": east_id,
                "date": east_today.isoformat(),
                "rMSSD": 50,
                "vendor": "oura",
                "capturedAt": (now + timedelta(hours=1)).isoformat(),
            },
            headers=app.ingest,
        )
        assert future_capture.status_code == 422


@pytest.mark.parametrize("instant", [*EDGE_INSTANTS, "2026-12-01T00:00:30+00:00"])
def test_readiness_today_is_each_athletes_local_day(settings: Settings, instant: str) -> None:
    now = datetime.fromisoformat(instant)
    expected: dict[str, date] = {}
    with Clocked(settings, now) as app:
        for zone, offset in ((EAST, "+14:00"), (WEST, "-12:00"), (ODD, "+05:45")):
            user_id, headers = app.athlete(zone)
            today = local_today(zone, now)
            # The newest night is the one whose 07:00 local wake-up has passed.
            woke_today = datetime.fromisoformat(f"{today.isoformat()}T07:00:00{offset}") <= now
            last_night = today if woke_today else today - timedelta(days=1)
            assert app.post_history(user_id, last_night, offset).status_code == 202
            body = app.client.get("/api/v1/readiness/today", headers=headers).json()
            expected[zone] = today
            assert body["date"] == today.isoformat(), (zone, body)
            # Before the wake-up, last night's reading cannot be there yet: the score says so.
            assert body["stale"] is (not woke_today), (zone, body)
    assert expected[EAST] - expected[WEST] == timedelta(days=1)


def test_frozen_clock_is_seen_by_the_app(settings: Settings) -> None:
    # Guards the harness itself: without it the edge tests above would test the wall clock.
    now = datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
    with Clocked(settings, now):
        assert abs(datetime.now(UTC) - now) < timedelta(minutes=1)
