"""What the plan tests share: an athlete's nights that score a chosen way, and the plan API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import Harness
from tests.teams.teamkit import API, ok

# A fixed instant for the tests that depend on the day: 12:00 UTC.
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("UTC"))
TODAY = NOON.date()


def noon_zone() -> tuple[str, date]:
    """A fixed-offset zone where it is now about noon, and its date: a test on the real clock
    whose athlete's day cannot turn over while it runs, whatever the hour (UTC-12 to UTC+14)."""
    now = datetime.now(ZoneInfo("UTC"))
    hours = 12 - now.hour  # -11 … +12
    name = "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"  # the Etc zones' signs are inverted
    return name, now.astimezone(ZoneInfo(name)).date()


def nights(
    athlete_id: int, last: date, *, count: int = 40, bad: int = 0, vendor: str = "oura"
) -> dict[str, Any]:
    """``count`` nights ending on ``last``: steady ones (rMSSD about 60 ms, resting HR 50, 7.7 h
    of sleep), the newest ``bad`` of them poor (rMSSD 30, resting HR 59, 5 h): with three poor
    nights the 7-day HRV falls below the normal range and resting HR is 9 bpm up — the illness
    override, readiness capped in the low band."""
    hrv, sleep = [], []
    for back in range(count):
        day = (last - timedelta(days=back)).isoformat()
        poor = back < bad
        rmssd = 30.0 if poor else 60.0 + (back % 5 - 2) * 3.0
        hrv.append(
            {
                "userId": athlete_id,
                "date": day,
                "rMSSD": rmssd,
                "restingHr": 59.0 if poor else 50.0,
                "vendor": vendor,
            }
        )
        sleep.append(
            {"userId": athlete_id, "date": day, "durationMin": 300 if poor else 460, "vendor": vendor}
        )
    return {"hrv": hrv, "sleep": sleep}


def post_nights(harness: Harness, body: dict[str, Any]) -> None:
    ok(harness.client.post(f"{API}/ingest/batch", json=body, headers=harness.service_token()), 202)
    harness.drain()


def plan(harness: Harness, who: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "date": TODAY.isoformat(),
        "sport": "run",
        "title": "Intervals 6×4 min",
        "type": "hard",
        "durationMin": 60,
    }
    body.update(fields)
    return dict(ok(harness.client.post(f"{API}/plan/sessions", json=body, headers=who["headers"]), 201))


def session(harness: Harness, who: dict[str, Any], session_id: int) -> dict[str, Any]:
    return dict(ok(harness.client.get(f"{API}/plan/sessions/{session_id}", headers=who["headers"])))


def decide(harness: Harness, who: dict[str, Any], session_id: int, decision: str) -> Any:
    return harness.client.post(
        f"{API}/plan/sessions/{session_id}/adjustment/{decision}", headers=who["headers"]
    )
