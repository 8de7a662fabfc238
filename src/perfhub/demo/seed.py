"""``perfhub demo``: a coach and a dozen athletes with ~120 days of plausible nightly data,
fed through the same ingest path the API uses."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.service import create_user, issue_token
from perfhub.core.db import session_scope
from perfhub.demo.synthetic import generate_nights, make_profiles, to_ingest_payloads
from perfhub.ingest.schemas import HrvIn, SleepIn
from perfhub.ingest.service import accept_reading
from perfhub.teams.models import SIGNALS, Team
from perfhub.teams.service import create_team, join_team

DEMO_TEAM = "Demo Team"
DEMO_DOMAIN = "demo.perfhub.local"
COACH_EMAIL = f"coach@{DEMO_DOMAIN}"


@dataclass
class DemoCredentials:
    coach: dict[str, Any]
    athletes: list[dict[str, Any]] = field(default_factory=list)
    ingest_token: str = ""
    team_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "teamId": self.team_id,
            "coach": self.coach,
            "athletes": self.athletes,
            "ingestToken": self.ingest_token,
        }


def demo_exists(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return session.scalar(select(Team.id).where(Team.name == DEMO_TEAM)) is not None


def seed_demo(
    sessions: sessionmaker[Session],
    *,
    athletes: int = 12,
    days: int = 120,
    end: date | None = None,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> DemoCredentials:
    """Create the demo team and ingest its history; returns the tokens (shown once)."""
    end = end or date.today()
    profiles = make_profiles(athletes, seed=seed)
    with session_scope(sessions) as session:
        coach, coach_token = create_user(session, COACH_EMAIL, "coach", name="Demo Coach", tz="Europe/London")
        team = create_team(session, DEMO_TEAM, coach)
        credentials = DemoCredentials(
            coach={"email": coach.email, "id": coach.id, "token": coach_token}, team_id=team.id
        )
        credentials.ingest_token = issue_token(session, "demo ingest", None, ("ingest",))
        people = []
        for profile in profiles:
            user, token = create_user(
                session, f"{profile.email_local}@{DEMO_DOMAIN}", "athlete", name=profile.name, tz=profile.tz
            )
            join_team(session, team.id, user, set(SIGNALS))
            credentials.athletes.append(
                {"email": user.email, "id": user.id, "name": user.name, "token": token}
            )
            people.append((user.id, profile))
    for index, (user_id, profile) in enumerate(people):
        hrv, sleep = generate_nights(profile, days, end - timedelta(days=0), seed=seed + index)
        with session_scope(sessions) as session:
            for kind, body in to_ingest_payloads(user_id, hrv, sleep):
                model = HrvIn if kind == "hrv" else SleepIn
                accept_reading(session, model.model_validate(body), source="demo")
        if progress:
            progress(index + 1, len(people))
    return credentials


def save_credentials(var_dir: Path, credentials: DemoCredentials) -> Path:
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "demo-credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials.to_json(), handle, indent=2)
    return path
