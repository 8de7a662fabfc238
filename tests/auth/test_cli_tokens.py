"""``perfhub token …`` and ``perfhub user token`` as an operator runs them: a real subprocess
on SQLite and on PostgreSQL, one JSON object on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from perfhub.auth.service import authenticate, hash_token
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.core.errors import Unauthorized

# The CLI calls the same token services tests/auth/test_tokens.py runs on both databases.
pytestmark = pytest.mark.backends("sqlite")


class Cli:
    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.tmp_path = tmp_path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PERFHUB_DATABASE_URL": self.database_url,
            "PERFHUB_VAR_DIR": str(self.tmp_path / "var"),
            "PERFHUB_SECRET_KEY": "cli-test-key",
            "COLUMNS": "200",
        }
        return subprocess.run(
            [sys.executable, "-m", "perfhub.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.tmp_path,
            timeout=120,
        )

    def ok(self, *args: str) -> dict[str, Any]:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("\n") == 1, result.stdout
        return dict(json.loads(result.stdout))

    def error(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode != 0 and result.stdout == ""
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
        return lines[0]

    def auth_detail(self, token: str) -> str | None:
        """None when the token authenticates, else the 401's detail."""
        engine = make_engine(self.database_url)
        try:
            with session_scope(make_sessionmaker(engine)) as session:
                authenticate(session, token)
            return None
        except Unauthorized as exc:
            return exc.detail
        finally:
            engine.dispose()


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_token_life_cycle_from_the_command_line(cli: Cli) -> None:
    athlete = cli.ok("user", "add", "ada@example.org", "--role", "athlete")
    laptop = cli.ok("user", "token", "ada@example.org", "--name", "laptop", "--expires-in-days", "30")
    assert laptop["email"] == "ada@example.org" and laptop["token"].startswith("ph_")
    assert laptop["userId"] == athlete["id"] and laptop["name"] == "laptop"
    assert at(laptop["expiresAt"]) == at(laptop["createdAt"]) + timedelta(days=30)
    service = cli.ok("token", "add", "phone-app", "--scope", "ingest", "--expires-in-days", "5")
    assert set(service) == {"name", "token"}  # the contract's shape, unchanged

    listed = cli.run("token", "list")
    services = json.loads(listed.stdout)["tokens"]
    assert [(row["name"], row["userId"], row["scopes"]) for row in services] == [
        ("phone-app", None, ["ingest"])
    ]
    [row] = services
    assert at(row["expiresAt"]) == at(row["createdAt"]) + timedelta(days=5) and row["status"] == "active"
    for secret in (athlete["token"], laptop["token"], service["token"]):
        assert secret not in listed.stdout and hash_token(secret) not in listed.stdout
    ada = cli.ok("token", "list", "--user", "ADA@example.org")["tokens"]
    assert [row["name"] for row in ada] == ["laptop", "ada@example.org login"]
    assert len(cli.ok("token", "list", "--all")["tokens"]) == 3

    rotated = cli.ok("token", "rotate", str(row["id"]))
    assert rotated["replaces"] == row["id"] and rotated["token"] != service["token"]
    assert (rotated["name"], rotated["scopes"], rotated["userId"]) == ("phone-app", ["ingest"], None)
    assert at(rotated["expiresAt"]) == at(rotated["createdAt"]) + timedelta(days=5)
    assert cli.auth_detail(rotated["token"]) is None
    assert cli.auth_detail(service["token"]) == "token revoked"
    assert "already rotated" in cli.error("token", "rotate", str(row["id"]))

    revoked = cli.ok("token", "revoke", str(laptop["id"]))
    assert revoked["id"] == laptop["id"] and revoked["status"] == "revoked" and revoked["revokedAt"]
    assert "token" not in revoked
    assert cli.auth_detail(laptop["token"]) == "token revoked"
    assert cli.auth_detail(athlete["token"]) is None
    # Revoking again is harmless and keeps the first time.
    assert cli.ok("token", "revoke", str(laptop["id"]))["revokedAt"] == revoked["revokedAt"]


def test_rotation_with_grace_keeps_the_old_token_briefly(cli: Cli) -> None:
    old = cli.ok("token", "add", "bridge", "--scope", "ingest")
    [row] = cli.ok("token", "list")["tokens"]
    new = cli.ok("token", "rotate", str(row["id"]), "--grace-minutes", "10")
    [after] = [r for r in cli.ok("token", "list")["tokens"] if r["id"] == row["id"]]
    assert after["status"] == "active" and after["replacedBy"] == new["id"]
    assert at(after["expiresAt"]) == at(new["createdAt"]) + timedelta(minutes=10)
    assert cli.auth_detail(old["token"]) is None and cli.auth_detail(new["token"]) is None


@pytest.mark.parametrize(
    "args",
    [
        ["token", "revoke", "999999"],
        ["token", "rotate", "999999"],
        ["token", "list", "--user", "nobody@example.org"],
        ["token", "list", "--user", "ada@example.org", "--all"],
        ["token", "add", "svc", "--scope", "ingest", "--expires-in-days", "0"],
        ["user", "token", "nobody@example.org", "--expires-in-days", "7"],
    ],
)
def test_bad_token_commands_give_one_line_and_non_zero_exit(cli: Cli, args: list[str]) -> None:
    cli.error(*args)


def test_rotating_a_revoked_token_or_with_a_long_grace_is_refused(cli: Cli) -> None:
    cli.ok("token", "add", "bridge", "--scope", "ingest")
    [row] = cli.ok("token", "list")["tokens"]
    assert "0 to 60 minutes" in cli.error("token", "rotate", str(row["id"]), "--grace-minutes", "61")
    cli.ok("token", "revoke", str(row["id"]))
    assert "revoked" in cli.error("token", "rotate", str(row["id"]))
