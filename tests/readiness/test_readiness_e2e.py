"""Readiness, sleep debt and nudges end to end: ingest over HTTP → consumers → API.

Scenario athletes have known truths; everything runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select
from tests.conftest import Harness

from perfhub.auth.models import User
from perfhub.core.db import session_scope
from perfhub.core.outbox import INSIGHTS_UPDATED, OutboxRow
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.service import recompute

# What is scored and shown is the same code on every deployment: these run in process only; the
# production deployment's transport is what the tests left on all three backends check.
IN_PROCESS = pytest.mark.backends("sqlite", "postgres")


def utc_today() -> date:
    """Read per use, not at import: a run that crosses midnight must not test yesterday's today."""
    return datetime.now(UTC).date()


def post_nights(
    harness: Harness,
    user_id: int,
    days: int,
    *,
    rmssd: float = 60.0,
    rhr: float = 50.0,
    sleep_min: float | None = 480.0,
    seed: int = 1,
    end: date | None = None,
    adjust: dict[int, dict[str, float]] | None = None,
) -> None:
    """Post ``days`` nights ending at ``end`` with small, seeded day-to-day noise.

    ``adjust`` maps "days before end" to overrides for that night.
    """
    end = end or utc_today()
    rng = np.random.default_rng(seed)
    hrv_bodies, sleep_bodies = [], []
    for back in range(days - 1, -1, -1):
        day = (end - timedelta(days=back)).isoformat()
        night = {
            "rMSSD": rmssd * math.exp(rng.normal(0, 0.05)),
            "restingHr": rhr + rng.normal(0, 1.0),
            "sleep": None if sleep_min is None else sleep_min + rng.normal(0, 15),
        }
        night.update((adjust or {}).get(back, {}))
        hrv_bodies.append(
            {
                "userId": user_id,
                "date": day,
                "rMSSD": round(night["rMSSD"], 1),
                "restingHr": round(night["restingHr"], 1),
                "vendor": "oura",
            }
        )
        if night["sleep"] is not None:
            sleep_bodies.append(
                {
                    "userId": user_id,
                    "date": day,
                    "durationMin": round(night["sleep"]),
                    "efficiencyPct": 90,
                    "latencyMin": 10,
                    "wakeCount": 1,
                    "vendor": "oura",
                }
            )
    # A bridge catching up sends many nights at once; single-night posts are covered elsewhere.
    response = harness.client.post(
        "/api/v1/ingest/batch",
        json={"hrv": hrv_bodies, "sleep": sleep_bodies},
        headers=harness.service_token(),
    )
    assert response.status_code == 202, response.text
    harness.drain()


def today_of(harness: Harness, athlete: dict[str, Any]) -> Any:
    return harness.client.get("/api/v1/readiness/today", headers=athlete["headers"])


def test_stable_athlete_scores_normal(harness: Harness) -> None:
    athlete = harness.user()
    post_nights(harness, athlete["id"], 70)
    response = today_of(harness, athlete)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["band"] == "normal" and 65 <= body["readiness"] <= 84
    assert body["status"] == "full" and body["stale"] is False and body["date"] == utc_today().isoformat()
    assert body["algorithmVersion"] and body["drivers"] and all(isinstance(d, str) for d in body["drivers"])
    weights = [c["weight"] for c in body["components"]]
    assert math.isclose(sum(weights), 1.0, abs_tol=0.01)
    assert {c["name"] for c in body["components"]} >= {"hrv_balance", "resting_hr", "sleep"}


def test_hrv_drop_with_raised_resting_hr_scores_low_and_names_both(harness: Harness) -> None:
    athlete = harness.user()
    drop = {back: {"rMSSD": 60.0 * 0.7, "restingHr": 57.0} for back in range(3)}
    post_nights(harness, athlete["id"], 70, adjust=drop)
    body = today_of(harness, athlete).json()
    assert body["band"] == "low" and body["readiness"] <= 39
    text = " ".join(body["drivers"]).lower()
    assert "hrv" in text and "resting hr" in text


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_two_days_is_calibrating(harness: Harness) -> None:
    athlete = harness.user()
    post_nights(harness, athlete["id"], 2)
    response = today_of(harness, athlete)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["reason"] == "calibrating"


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_no_data_and_no_recent_data(harness: Harness) -> None:
    fresh, lapsed = harness.user(), harness.user()
    assert today_of(harness, fresh).json()["reason"] == "no_data"
    post_nights(harness, lapsed["id"], 30, end=utc_today() - timedelta(days=10))
    response = today_of(harness, lapsed)
    assert response.status_code == 404 and response.json()["reason"] == "no_recent_data"


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_missing_recent_nights_fall_back_and_flag_stale(harness: Harness) -> None:
    athlete = harness.user()
    post_nights(harness, athlete["id"], 60, end=utc_today() - timedelta(days=3))
    body = today_of(harness, athlete).json()
    assert body["stale"] is True
    assert any("day" in d.lower() and ("ago" in d.lower() or "old" in d.lower()) for d in body["drivers"])


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_history_endpoint_lists_scored_days_by_date(harness: Harness) -> None:
    athlete = harness.user()
    post_nights(harness, athlete["id"], 30)
    params = {"from": (utc_today() - timedelta(days=40)).isoformat(), "to": utc_today().isoformat()}
    days = harness.client.get("/api/v1/readiness", params=params, headers=athlete["headers"]).json()
    dates = [d["date"] for d in days]
    assert dates == sorted(dates) and dates[-1] == utc_today().isoformat()
    # Fewer than 4 HRV days gives no score: the first three days are absent.
    assert dates[0] == (utc_today() - timedelta(days=26)).isoformat()
    assert {d["status"] for d in days} == {"calibrating", "provisional"}
    bad = harness.client.get(
        "/api/v1/readiness", params={"from": "2024-05-01", "to": "2024-04-01"}, headers=athlete["headers"]
    )
    assert bad.status_code == 422


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_sleep_debt_high_gives_one_nudge(harness: Harness) -> None:
    athlete = harness.user()
    post_nights(harness, athlete["id"], 14, sleep_min=360)
    debt = harness.client.get(
        "/api/v1/sleep/debt",
        params={"from": utc_today().isoformat(), "to": utc_today().isoformat()},
        headers=athlete["headers"],
    ).json()
    assert [d["category"] for d in debt] == ["high"] and debt[0]["debtHours"] > 5
    alerts = harness.client.get("/api/v1/alerts", headers=athlete["headers"]).json()
    assert len(alerts) == 1
    # The live consumer may see the nights in more than one batch: the nudge is on the newest
    # night it had seen when debt first became high.
    assert alerts[0]["kind"] == "sleep_debt"
    assert alerts[0]["date"] in {utc_today().isoformat(), (utc_today() - timedelta(days=1)).isoformat()}
    assert "high" in alerts[0]["message"]
    # Another delivery for the same night does not nudge twice.
    post_nights(harness, athlete["id"], 1, sleep_min=350, seed=9)
    assert len(harness.client.get("/api/v1/alerts", headers=athlete["headers"]).json()) == 1


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_no_nudge_when_turned_off(harness: Harness) -> None:
    athlete = harness.user()
    assert harness.client.get("/api/v1/alerts/preferences", headers=athlete["headers"]).json() == {
        "sleepDebt": True
    }
    put = harness.client.put(
        "/api/v1/alerts/preferences", json={"sleepDebt": False}, headers=athlete["headers"]
    )
    assert put.status_code == 200 and put.json() == {"sleepDebt": False}
    post_nights(harness, athlete["id"], 14, sleep_min=360)
    assert harness.client.get("/api/v1/alerts", headers=athlete["headers"]).json() == []
    bad = harness.client.put(
        "/api/v1/alerts/preferences", json={"sleepDebt": "maybe"}, headers=athlete["headers"]
    )
    assert bad.status_code == 422


def test_late_correction_revises_past_snapshots(harness: Harness) -> None:
    athlete = harness.user()
    post_nights(harness, athlete["id"], 40)
    target = utc_today() - timedelta(days=10)
    with harness.runtime.sessions() as session:
        before = {
            r.date: r.inputs_hash
            for r in session.scalars(
                select(ReadinessSnapshotRow).where(ReadinessSnapshotRow.user_id == athlete["id"])
            )
        }
        seen = session.scalar(select(OutboxRow.id).order_by(OutboxRow.id.desc()).limit(1))
    body = {
        "userId": athlete["id"],
        "date": target.isoformat(),
        "rMSSD": 25.0,
        "restingHr": 62,
        "vendor": "oura",
    }
    harness.client.post("/api/v1/ingest/hrv", json=body, headers=harness.service_token())
    harness.drain()
    with harness.runtime.sessions() as session:
        after = {
            r.date: r.inputs_hash
            for r in session.scalars(
                select(ReadinessSnapshotRow).where(ReadinessSnapshotRow.user_id == athlete["id"])
            )
        }
        events = session.scalars(
            select(OutboxRow).where(OutboxRow.subject == INSIGHTS_UPDATED, OutboxRow.id > seen)
        ).all()
    changed = {d for d in after if before.get(d) != after[d]}
    assert target in changed
    assert all(d >= target for d in changed)  # nothing before the corrected day moves
    assert (target + timedelta(days=5)) in changed  # later days whose windows include it do
    assert len(events) == 1 and events[0].payload["revised"] is True
    assert target.isoformat() in events[0].payload["revisedDates"]


def test_batch_and_live_paths_give_identical_snapshots(harness: Harness) -> None:
    athletes = [harness.user() for _ in range(3)]
    for index, athlete in enumerate(athletes):
        post_nights(
            harness,
            athlete["id"],
            45 + 10 * index,
            rmssd=45 + 15 * index,
            seed=index,
            adjust={5: {"rMSSD": 30.0, "restingHr": 58.0}},
        )

    def snapshot_rows() -> dict[tuple[int, date], tuple[Any, ...]]:
        with harness.runtime.sessions() as session:
            return {
                (r.user_id, r.date): (
                    r.score,
                    r.band,
                    r.status,
                    r.reason,
                    r.stale,
                    r.drivers,
                    r.components,
                    r.inputs_hash,
                )
                for r in session.scalars(select(ReadinessSnapshotRow))
            }

    live = snapshot_rows()
    with session_scope(harness.runtime.sessions) as session:
        session.execute(delete(ReadinessSnapshotRow))
    with session_scope(harness.runtime.sessions) as session:
        users = list(session.scalars(select(User).where(User.id.in_([a["id"] for a in athletes]))))
        recompute(session, users, announce=False)
    batch = snapshot_rows()
    assert live.keys() == batch.keys() and len(live) > 100
    differing = {k: (live[k], batch[k]) for k in live if live[k] != batch[k]}
    assert not differing, next(iter(differing.items()))


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_coach_needs_readiness_consent(harness: Harness) -> None:
    from perfhub.teams.service import create_team, join_team

    coach, athlete = harness.user("coach"), harness.user()
    with session_scope(harness.runtime.sessions) as session:
        team = create_team(session, "Track", session.get(User, coach["id"]))
        join_team(session, team.id, session.get(User, athlete["id"]), {"hrv"})
    post_nights(harness, athlete["id"], 10)
    response = harness.client.get(
        "/api/v1/readiness/today", params={"userId": athlete["id"]}, headers=coach["headers"]
    )
    assert response.status_code == 403


@pytest.mark.backends("sqlite", "postgres")  # the API refuses it before any stage runs
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/readiness/today",
        "/api/v1/readiness",
        "/api/v1/sleep/debt",
        "/api/v1/alerts",
        "/api/v1/alerts/preferences",
    ],
)
def test_insights_endpoints_need_a_person(harness: Harness, path: str) -> None:
    assert harness.client.get(path).status_code == 401
    assert harness.client.get(path, headers=harness.service_token()).status_code == 403


@pytest.mark.backends(
    "sqlite", "postgres"
)  # what is scored and shown; the deployment's transport: the nats tests here
def test_sleep_need_setting_changes_debt(harness: Harness) -> None:
    athlete = harness.user()
    post_nights(harness, athlete["id"], 14, sleep_min=420)
    me = harness.client.get("/api/v1/me", headers=athlete["headers"]).json()
    assert me["sleepNeedMin"] is None and me["sourcePriority"][0] == "oura"  # estimated from the nights
    params = {"from": utc_today().isoformat(), "to": utc_today().isoformat()}
    before = harness.client.get("/api/v1/sleep/debt", params=params, headers=athlete["headers"]).json()[0]
    patched = harness.client.patch("/api/v1/me", json={"sleepNeedMin": 420}, headers=athlete["headers"])
    assert patched.status_code == 200 and patched.json()["sleepNeedMin"] == 420
    after = harness.client.get("/api/v1/sleep/debt", params=params, headers=athlete["headers"]).json()[0]
    assert after["debtHours"] < before["debtHours"] and after["category"] in ("none", "low")
    today = harness.client.get("/api/v1/readiness/today", headers=athlete["headers"]).json()
    assert not any("Sleep debt" in d and "high" in d for d in today["drivers"])
    for bad in (
        {"sleepNeedMin": 100},
        {"tz": "Nowhere/Land"},
        {"sourcePriority": ["oura", "oura"]},
        {"sourcePriority": ["fitbit"]},
        {"role": "admin"},
    ):
        response = harness.client.patch("/api/v1/me", json=bad, headers=athlete["headers"])
        assert response.status_code == 422, (bad, response.text)
