"""``perfhub demo``: a coach and a dozen athletes with ~120 days of plausible nightly data,
fed through the same ingest path the API uses, and their training plans: four weeks of planned
sessions done (or not) and two weeks ahead. The pipeline that turns the nights into readiness
proposes the adjustments of today's sessions (its ``plans`` consumer), as it does for any
athlete."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.models import User
from perfhub.auth.passwords import generate_password, hash_password, set_password
from perfhub.auth.service import create_user, issue_token
from perfhub.core.db import session_scope
from perfhub.demo.synthetic import (
    AthleteProfile,
    HrvNight,
    SleepNight,
    TrainingDay,
    make_profiles,
    simulate,
    to_ingest_payloads,
)
from perfhub.demo.training import DemoPlan, demo_plan
from perfhub.plans.models import PlannedSession
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.readings.service import accept_reading
from perfhub.teams.models import Team
from perfhub.teams.schemas import SIGNALS
from perfhub.teams.service import create_team, join_team
from perfhub.training.load import session_load
from perfhub.training.models import CompletedSession

DEMO_TEAM = "Demo Team"
DEMO_DOMAIN = "demo.perfhub.local"
COACH_EMAIL = f"coach@{DEMO_DOMAIN}"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"


@dataclass
class DemoCredentials:
    coach: dict[str, Any]
    athletes: list[dict[str, Any]] = field(default_factory=list)
    ingest_token: str = ""
    team_id: int = 0
    admin: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "teamId": self.team_id,
            "coach": self.coach,
            "admin": self.admin,
            "athletes": self.athletes,
            "ingestToken": self.ingest_token,
        }


def demo_exists(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return session.scalar(select(Team.id).where(Team.name == DEMO_TEAM)) is not None


def ended_nights(
    profile: AthleteProfile, days: int, now: datetime, seed: int
) -> tuple[list[HrvNight], list[SleepNight]]:
    """The profile's nights up to its local today, without any whose capture is still ahead.

    Before an athlete's local morning their night has not ended: ingest would rightly refuse a
    capture time in the future, so the history ends at the last night that is over at ``now``.
    """
    hrv, sleep, _ = athlete_history(profile, days, now, seed)
    return hrv, sleep


def athlete_history(
    profile: AthleteProfile, days: int, now: datetime, seed: int
) -> tuple[list[HrvNight], list[SleepNight], list[TrainingDay]]:
    """:func:`ended_nights`, and the training days the nights were made with."""
    today = now.astimezone(ZoneInfo(profile.tz)).date()
    hrv, sleep, training = simulate(profile, days, today, seed=seed)
    return [n for n in hrv if n.captured_at <= now], [n for n in sleep if n.captured_at <= now], training


def seed_training(session: Session, athlete: User, coach: User, plan: DemoPlan) -> None:
    """The athlete's planned sessions (made by the coach), and what they logged of them.

    Completions are written as rows, without the ``data.normalized`` a logged session announces:
    the demo's nights announce every day from the first one, so the readiness the pipeline
    computes for them reads this training load already."""
    rows = [
        PlannedSession(
            athlete_id=athlete.id,
            date=item.date,
            sport=item.sport,
            title=item.title,
            type=item.type,
            duration_min=item.duration_min,
            intensity=item.intensity,
            planned_load=item.planned_load,
            source="manual",
            created_by_id=coach.id,
        )
        for item in plan.sessions
    ]
    session.add_all(rows)
    session.flush()
    done = [
        CompletedSession(
            athlete_id=athlete.id,
            date=item.date,
            sport=item.sport,
            duration_min=item.done.duration_min,
            rpe=item.done.rpe,
            rpe_estimated=False,
            load=session_load(item.done.rpe, item.done.duration_min),
            planned_session_id=row.id,
            source="manual",
            entered_by_id=athlete.id,
        )
        for item, row in zip(plan.sessions, rows, strict=True)
        if item.done is not None
    ]
    done += [
        CompletedSession(
            athlete_id=athlete.id,
            date=extra.date,
            sport=extra.sport,
            duration_min=extra.duration_min,
            rpe=extra.rpe,
            rpe_estimated=False,
            load=session_load(extra.rpe, extra.duration_min),
            source="manual",
            entered_by_id=athlete.id,
        )
        for extra in plan.unplanned
    ]
    session.add_all(done)
    session.flush()


def seed_demo(
    sessions: sessionmaker[Session],
    var_dir: Path,
    *,
    athletes: int = 12,
    days: int = 120,
    now: datetime | None = None,
    seed: int = 7,
    profiles: list[AthleteProfile] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoCredentials:
    """Create the demo team and ingest its history in one transaction; returns the tokens.

    All or nothing: the credentials file is written last inside the transaction and removed
    again if the commit fails, so a demo in the database always has its tokens on disk.
    """
    now = now or datetime.now(UTC)
    profiles = profiles if profiles is not None else make_profiles(athletes, seed=seed)
    path = credentials_path(var_dir)
    try:
        with session_scope(sessions) as session:
            coach, coach_token = create_user(
                session, COACH_EMAIL, "coach", name="Demo Coach", tz="Europe/London"
            )
            team = create_team(session, DEMO_TEAM, coach)
            credentials = DemoCredentials(
                coach={
                    "email": coach.email,
                    "id": coach.id,
                    "token": coach_token,
                    "password": _give_password(session, coach),
                },
                team_id=team.id,
            )
            credentials.ingest_token = issue_token(session, "demo ingest", None, ("ingest",))
            admin, admin_token = create_user(session, ADMIN_EMAIL, "admin", name="Demo Admin")
            credentials.admin = {
                "email": admin.email,
                "id": admin.id,
                "token": admin_token,
                "password": _give_password(session, admin),
            }
            # The athletes share one password of this install's own: a demo has a dozen of them, and
            # each argon2id hash costs a fifth of a second (the coach and the admin have their own).
            athlete_password = generate_password()
            athlete_hash = hash_password(athlete_password)
            for index, profile in enumerate(profiles):
                user, token = create_user(
                    session,
                    f"{profile.email_local}@{DEMO_DOMAIN}",
                    "athlete",
                    name=profile.name,
                    tz=profile.tz,
                )
                # In the team for all the history the demo makes, as the pilot report reads it.
                join_team(session, team.id, user, set(SIGNALS), joined_at=now - timedelta(days=days))
                user.password_hash = athlete_hash
                credentials.athletes.append(
                    {
                        "email": user.email,
                        "id": user.id,
                        "name": user.name,
                        "token": token,
                        "password": athlete_password,
                    }
                )
                hrv, sleep, training = athlete_history(profile, days, now, seed + index)
                for kind, body in to_ingest_payloads(user.id, hrv, sleep):
                    model = HrvIn if kind == "hrv" else SleepIn
                    accept_reading(session, model.model_validate(body), source="demo")
                today = now.astimezone(ZoneInfo(profile.tz)).date()
                seed_training(session, user, coach, demo_plan(profile, today, training, seed + index))
                if progress:
                    progress(index + 1, len(profiles))
            save_credentials(var_dir, credentials)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return credentials


def _give_password(session: Session, user: User) -> str:
    # A fresh random password per install: a demo reachable from a network must not open with a
    # password everyone knows from the README.
    password = generate_password()
    set_password(session, user, password)
    return password


def ensure_demo_passwords(sessions: sessionmaker[Session], var_dir: Path) -> bool:
    """Give web passwords to the people of a demo seeded before sign-in existed, and record them
    beside the tokens. True if the credentials file changed."""
    path = credentials_path(var_dir)
    if not path.exists():
        return False
    saved = json.loads(path.read_text())
    people = [saved["coach"], *saved["athletes"]]
    if saved.get("admin"):
        people.append(saved["admin"])
    missing = [person for person in people if not person.get("password")]
    if not missing:
        return False
    with session_scope(sessions) as session:
        for person in missing:
            user = session.scalar(select(User).where(User.email == person["email"]))
            if user is not None:
                person["password"] = _give_password(session, user)
        write_private_json(path, saved)
    return True


def credentials_path(var_dir: Path) -> Path:
    return var_dir / "demo-credentials.json"


def save_credentials(var_dir: Path, credentials: DemoCredentials) -> Path:
    var_dir.mkdir(parents=True, exist_ok=True)
    path = credentials_path(var_dir)
    write_private_json(path, credentials.to_json())
    return path


def write_private_json(path: Path, content: dict[str, Any]) -> None:
    """Write ``content`` readable by its owner only (it holds passwords and tokens)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(content, handle, indent=2)
