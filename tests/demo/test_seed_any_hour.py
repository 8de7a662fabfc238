"""``perfhub demo`` at any hour of the day, in every demo time zone, all or nothing."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from typer.testing import CliRunner

from perfhub.auth.models import User
from perfhub.cli import app
from perfhub.core.dates import local_today
from perfhub.demo import seed as demo_seed
from perfhub.demo.seed import credentials_path, demo_exists, ended_nights, seed_demo
from perfhub.demo.synthetic import DEMO_ZONES, make_profiles, to_ingest_payloads
from perfhub.demo.training import AHEAD_DAYS, BACK_DAYS
from perfhub.pipeline.runtime import Runtime
from perfhub.plans.models import PlannedSession
from perfhub.readings.models import HrvDaily
from perfhub.readings.schemas import HrvIn, SleepIn
from perfhub.settings import Settings, _from_environment, use_settings
from perfhub.training.models import CompletedSession

# A day with a DST change in Europe (the last Sunday of March) and one in the southern hemisphere's
# spring (first Sunday of April in Sydney/Auckland), so local mornings shift under the hours.
FROZEN_DAYS = (datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC))
HOURS = range(24)


def every_zone_profiles() -> list[demo_seed.AthleteProfile]:
    base = make_profiles(len(DEMO_ZONES), seed=11)
    return [dataclasses.replace(profile, tz=zone) for profile, zone in zip(base, DEMO_ZONES, strict=True)]


@pytest.mark.parametrize("day", FROZEN_DAYS, ids=lambda d: d.date().isoformat())
def test_seeded_nights_are_accepted_at_every_hour_in_every_zone(day: datetime) -> None:
    profiles = every_zone_profiles()
    for hour in HOURS:
        now = day + timedelta(hours=hour, minutes=17)
        with time_machine.travel(now, tick=False):
            for index, profile in enumerate(profiles):
                hrv, sleep = ended_nights(profile, 10, now, seed=index)
                assert hrv and sleep
                # Validation reads the (frozen) clock: every payload must pass as ingest sees it.
                for kind, body in to_ingest_payloads(1, hrv, sleep):
                    (HrvIn if kind == "hrv" else SleepIn).model_validate(body)
                local_today = now.astimezone(ZoneInfo(profile.tz)).date()
                newest = max(n.date for n in hrv + sleep)
                # History runs up to the last night that is over: local today once the morning
                # capture has passed, yesterday before it; never a night still to come.
                assert newest in (local_today, local_today - timedelta(days=1))
                assert all(n.captured_at <= now for n in hrv + sleep)


@pytest.fixture
def migrated(sqlite_template: Path, tmp_path: Path) -> Iterator[Settings]:
    target = tmp_path / "demo.db"
    shutil.copy(sqlite_template, target)
    yield Settings(database_url=f"sqlite:///{target}", var_dir=tmp_path / "var", secret_key="demo-test")


@pytest.mark.parametrize("hour", HOURS)
def test_demo_seeds_at_every_hour_for_every_zone(sqlite_template: Path, tmp_path: Path, hour: int) -> None:
    now = FROZEN_DAYS[0] + timedelta(hours=hour, minutes=5)
    target = tmp_path / "demo.db"
    shutil.copy(sqlite_template, target)
    settings = Settings(database_url=f"sqlite:///{target}", var_dir=tmp_path / "var", secret_key="demo-test")
    profiles = every_zone_profiles()
    with time_machine.travel(now, tick=False):
        runtime = Runtime.build(settings)
        try:
            credentials = seed_demo(runtime.sessions, settings.var_dir, days=4, profiles=profiles)
            with runtime.sessions() as session:
                people = session.scalar(select(func.count()).select_from(User))
                assert people == len(DEMO_ZONES) + 2  # and the coach and the admin
                planned = session.scalar(select(func.count()).select_from(PlannedSession))
                assert planned == len(DEMO_ZONES) * (BACK_DAYS + AHEAD_DAYS)
                # Whatever the hour, nothing is logged as done on a day not over where the athlete is.
                zones = dict(session.execute(select(User.id, User.tz)).all())
                done = session.execute(select(CompletedSession.athlete_id, CompletedSession.date)).all()
                assert done and all(day < local_today(zones[athlete], now) for athlete, day in done)
            runtime.bus.drain()
            with runtime.sessions() as session:
                athletes_with_nights = session.scalar(select(func.count(func.distinct(HrvDaily.user_id))))
        finally:
            runtime.close()
    assert athletes_with_nights == len(DEMO_ZONES)
    saved = json.loads(credentials_path(settings.var_dir).read_text())
    assert saved["coach"]["token"] == credentials.coach["token"]


def test_a_failed_seed_leaves_nothing_and_the_next_run_succeeds(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime.build(migrated)
    calls = {"n": 0}
    real_accept = demo_seed.accept_reading

    def failing_accept(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 40:
            raise RuntimeError("disk full")
        return real_accept(*args, **kwargs)  # type: ignore[arg-type]

    try:
        monkeypatch.setattr(demo_seed, "accept_reading", failing_accept)
        with pytest.raises(RuntimeError, match="disk full"):
            seed_demo(runtime.sessions, migrated.var_dir, athletes=3, days=20)
        assert not demo_exists(runtime.sessions)
        with runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(User)) == 0
        assert not credentials_path(migrated.var_dir).exists()

        monkeypatch.setattr(demo_seed, "accept_reading", real_accept)
        seed_demo(runtime.sessions, migrated.var_dir, athletes=3, days=20)
        assert demo_exists(runtime.sessions)
        assert len(json.loads(credentials_path(migrated.var_dir).read_text())["athletes"]) == 3
    finally:
        runtime.close()


def cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = {
        "PERFHUB_DATABASE_URL": settings.database_url,
        "PERFHUB_VAR_DIR": str(settings.var_dir),
        "PERFHUB_SECRET_KEY": "demo-test",
    }
    # In-process (so the frozen clock applies): forget settings an earlier invocation cached.
    use_settings(None)
    _from_environment.cache_clear()
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("hour", [0, 5, 13, 23])
def test_demo_cli_at_hostile_hours_prints_the_served_address(migrated: Settings, hour: int) -> None:
    # Before about 14:00 UTC a night for "today" in the Americas has not ended yet.
    with time_machine.travel(FROZEN_DAYS[1] + timedelta(hours=hour, minutes=30), tick=False):
        code, out, err = cli(
            migrated,
            "demo",
            "--athletes",
            "4",
            "--days",
            "10",
            "--if-missing",
            "--url",
            "http://127.0.0.1:8741",
        )
    assert code == 0, err
    assert "http://127.0.0.1:8741" in out and ":8000" not in out
    assert "token ph_" in out


def test_missing_credentials_file_says_how_to_get_a_token(migrated: Settings) -> None:
    code, _, err = cli(migrated, "demo", "--athletes", "2", "--days", "5")
    assert code == 0, err
    credentials_path(migrated.var_dir).unlink()
    code, out, _ = cli(migrated, "demo", "--if-missing", "--url", "http://127.0.0.1:8741")
    assert code == 0
    assert "perfhub user token coach@demo.perfhub.local" in out
    code, out, err = cli(migrated, "user", "token", "coach@demo.perfhub.local")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["email"] == "coach@demo.perfhub.local" and issued["token"].startswith("ph_")
    code, _, err = cli(migrated, "user", "token", "nobody@example.org")
    assert code == 1 and err.count("\n") == 1
