"""The CLI as a user runs it: a real subprocess, JSON on stdout, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.migrate import upgrade


def run(args: list[str], env_db: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PERFHUB_DATABASE_URL": env_db,
        "PERFHUB_VAR_DIR": str(tmp_path / "var"),
        "PERFHUB_SECRET_KEY": "cli-test-key",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "perfhub.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_user_team_token_commands_print_contract_json(db: str, tmp_path: Path) -> None:
    assert run(["db", "upgrade"], db, tmp_path).returncode == 0
    coach = json.loads(
        run(["user", "add", "Coach@Example.org", "--role", "coach", "--name", "C"], db, tmp_path).stdout
    )
    assert set(coach) == {"id", "email", "role", "token"} and coach["email"] == "coach@example.org"
    athlete = json.loads(
        run(["user", "add", "a@example.org", "--role", "athlete", "--tz", "Europe/Oslo"], db, tmp_path).stdout
    )
    assert athlete["token"].startswith("ph_") and athlete["role"] == "athlete"
    team = json.loads(run(["team", "add", "Rowing", "--coach", "coach@example.org"], db, tmp_path).stdout)
    assert set(team) == {"id", "name"} and team["name"] == "Rowing"
    joined = json.loads(
        run(["team", "join", str(team["id"]), "a@example.org", "--share", "hrv,sleep"], db, tmp_path).stdout
    )
    assert joined == {
        "teamId": team["id"],
        "userId": athlete["id"],
        "sharing": {"hrv": True, "sleep": True, "readiness": False, "training": False},
    }
    token = json.loads(run(["token", "add", "phone-app", "--scope", "ingest"], db, tmp_path).stdout)
    assert set(token) == {"name", "token"} and token["token"].startswith("ph_")
    # Tokens are stored hashed, never in clear.
    raw = (tmp_path / "cli.db").read_bytes()
    assert athlete["token"].encode() not in raw and token["token"].encode() not in raw


@pytest.mark.parametrize(
    "args",
    [
        ["user", "add", "x@example.org", "--role", "wizard"],
        ["user", "add", "not-an-email", "--role", "athlete"],
        ["user", "add", "x@example.org", "--role", "athlete", "--tz", "Mars/Olympus"],
        ["team", "add", "T", "--coach", "nobody@example.org"],
        ["team", "join", "999", "nobody@example.org"],
        ["token", "add", "svc", "--scope", "root"],
    ],
)
def test_bad_arguments_give_one_line_and_non_zero_exit(db: str, tmp_path: Path, args: list[str]) -> None:
    result = run(args, db, tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr


def test_duplicate_user_is_refused(db: str, tmp_path: Path) -> None:
    assert run(["user", "add", "a@example.org", "--role", "athlete"], db, tmp_path).returncode == 0
    again = run(["user", "add", "a@example.org", "--role", "athlete"], db, tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], "postgresql://postgres@127.0.0.1:1/nope", tmp_path)
    assert (
        result.returncode == 1
        and result.stderr.count("\n") == 1
        and "cannot open the database" in result.stderr
    )


def test_demo_seeds_once_and_prints_login(db: str, tmp_path: Path) -> None:
    first = run(["demo", "--athletes", "3", "--days", "30"], db, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "coach@demo.perfhub.local" in first.stdout and "token ph_" in first.stdout
    creds = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert len(creds["athletes"]) == 3
    # Every demo person can sign in to the pages; the passwords are this install's own (the
    # athletes share one).
    people = [creds["coach"], creds["admin"], *creds["athletes"]]
    assert all(len(person["password"]) >= 10 for person in people)
    assert len({person["password"] for person in people}) == 3
    assert f"password {creds['coach']['password']}" in first.stdout
    assert f"password {creds['admin']['password']}" in first.stdout
    assert oct((tmp_path / "var" / "demo-credentials.json").stat().st_mode & 0o777) == "0o600"
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.db") as conn:
        hrv_rows = conn.execute("SELECT count(*), count(DISTINCT user_id) FROM hrv_daily").fetchone()
        sleep_rows = conn.execute("SELECT count(*) FROM sleep_daily").fetchone()[0]
        raw_sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM raw_event")}
    assert hrv_rows[1] == 3 and 3 * 30 * 0.8 <= hrv_rows[0] <= 3 * 30
    assert 3 * 30 * 0.8 <= sleep_rows <= 3 * 30
    assert raw_sources == {"demo"}  # it went through the landing log like any delivery
    again = run(["demo", "--if-missing"], db, tmp_path)
    assert again.returncode == 0 and "demo ready" in again.stdout
    assert f"password {creds['coach']['password']}" in again.stdout
    refused = run(["demo"], db, tmp_path)
    assert refused.returncode == 1 and "exists already" in refused.stderr


def test_user_password_reads_stdin_generates_and_refuses_in_one_line(db: str, tmp_path: Path) -> None:
    upgrade(db)
    with session_scope(make_sessionmaker(make_engine(db))) as session:
        create_user(session, "a@example.org", "athlete")

    def password(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PERFHUB_DATABASE_URL": db, "PERFHUB_VAR_DIR": str(tmp_path / "var")}
        return subprocess.run(
            [sys.executable, "-m", "perfhub.cli", "user", "password", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    typed = password("a@example.org", stdin="a long enough secret\n")
    assert typed.returncode == 0 and json.loads(typed.stdout) == {
        "email": "a@example.org",
        "signedOutSessions": 0,
    }
    assert "a long enough secret" not in typed.stdout + typed.stderr
    made = json.loads(password("a@example.org", "--generate").stdout)
    assert len(made["password"]) >= 10
    for args, stdin, words in (
        (("a@example.org",), "short\n", "at least 10 characters"),
        (("nobody@example.org", "--generate"), "", "no user with email"),
    ):
        refused = password(*args, stdin=stdin)
        assert refused.returncode == 1 and refused.stdout == "", args
        assert refused.stderr.count("\n") == 1 and words in refused.stderr, refused.stderr
    raw = (tmp_path / "cli.db").read_bytes()
    assert b"a long enough secret" not in raw and made["password"].encode() not in raw
