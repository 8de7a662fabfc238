"""What the teams tests share: teams, invitations and memberships made through the API, and an
athlete's few nights of data to read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from tests.conftest import Harness

from perfhub.teams.models import TeamMembership

API = "/api/v1"
NONE_SHARED = {"hrv": False, "sleep": False, "readiness": False, "training": False}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def make_team(harness: Harness, coach: dict[str, Any], name: str = "Rowing") -> int:
    return int(
        ok(harness.client.post(f"{API}/teams", json={"name": name}, headers=coach["headers"]), 201)["id"]
    )


def invite(harness: Harness, coach: dict[str, Any], team_id: int, email: str) -> dict[str, Any]:
    response = harness.client.post(
        f"{API}/teams/{team_id}/invitations", json={"email": email}, headers=coach["headers"]
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def accept(harness: Harness, athlete: dict[str, Any], invitation_id: int, **signals: bool) -> Any:
    return harness.client.post(
        f"{API}/invitations/{invitation_id}/accept", json=signals, headers=athlete["headers"]
    )


def join(
    harness: Harness, coach: dict[str, Any], team_id: int, athlete: dict[str, Any], **signals: bool
) -> None:
    """The athlete joins through an invitation, sharing ``signals``."""
    invitation = invite(harness, coach, team_id, athlete["email"])
    ok(accept(harness, athlete, invitation["id"], **signals))


def add_coach(harness: Harness, by: dict[str, Any], team_id: int, coach: dict[str, Any]) -> Any:
    return harness.client.post(
        f"{API}/teams/{team_id}/coaches", json={"email": coach["email"]}, headers=by["headers"]
    )


def share(harness: Harness, athlete: dict[str, Any], team_id: int, **signals: bool) -> Any:
    return harness.client.put(f"{API}/sharing/{team_id}", json=signals, headers=athlete["headers"])


def post_nights(harness: Harness, athlete_id: int, nights: int = 4) -> None:
    """HRV and sleep on nights 2..nights+1 days before the UTC date: inside a read's default
    30 days whatever the athlete's zone (UTC-12 to UTC+14)."""
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=back)).isoformat() for back in range(2, nights + 2)]
    body = {
        "hrv": [
            {"userId": athlete_id, "date": d, "rMSSD": 60.0, "restingHr": 50.0, "vendor": "oura"}
            for d in days
        ],
        "sleep": [{"userId": athlete_id, "date": d, "durationMin": 450, "vendor": "oura"} for d in days],
    }
    ok(harness.client.post(f"{API}/ingest/batch", json=body, headers=harness.service_token()), 202)
    harness.drain()


def read(harness: Harness, viewer: dict[str, Any], path: str, athlete_id: int) -> Any:
    """``viewer`` reads the athlete's data through one of the raw read endpoints."""
    return harness.client.get(f"{API}{path}", params={"userId": athlete_id}, headers=viewer["headers"])


def memberships(harness: Harness, team_id: int, athlete_id: int) -> int:
    with harness.runtime.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(TeamMembership)
                .where(TeamMembership.team_id == team_id, TeamMembership.athlete_id == athlete_id)
            )
            or 0
        )
