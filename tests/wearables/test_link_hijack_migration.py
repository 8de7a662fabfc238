"""Migration 0007 on a database the old link flow left behind: a vendor account live on
several athletes (the hijack, or a victim relinking after it) keeps only its latest link, so
that the one-live-connection-per-account index can exist. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError
from tests.conftest import RUN_ID, _admin, _server_url

from perfhub.core.db import normalise_url
from perfhub.core.migrate import alembic_config, upgrade

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not the migrated template): the test upgrades it step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("pg_template")  # skips (or fails) when PostgreSQL is unreachable
    name = f"perfhub_mig7_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _user(engine: Engine, email: str) -> int:
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO user_account (email, name, role, tz, sleep_need_min, created_at)"
                " VALUES (:email, :email, 'athlete', 'UTC', 480, :at)"
            ),
            {"email": email, "at": T0},
        )
        return int(db.scalar(text("SELECT id FROM user_account WHERE email = :email"), {"email": email}))


def _connection(
    engine: Engine, user_id: int, vendor: str, status: str, account: str | None, **more: Any
) -> int:
    values = {
        "user_id": user_id,
        "vendor": vendor,
        "status": status,
        "account": account,
        "access_token": more.get("access_token", "sealed-access"),
        "refresh_token": "sealed-refresh",
        "linked_at": more.get("linked_at"),
        "updated_at": T0,
        "backfill_status": more.get("backfill_status"),
    }
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO vendor_connection (user_id, vendor, status, vendor_user_id, access_token,"
                " refresh_token, linked_at, updated_at, backfill_status) VALUES (:user_id, :vendor, :status,"
                " :account, :access_token, :refresh_token, :linked_at, :updated_at, :backfill_status)"
            ),
            values,
        )
        return int(
            db.scalar(
                text("SELECT id FROM vendor_connection WHERE user_id = :u AND vendor = :v"),
                {"u": user_id, "v": vendor},
            )
        )


def _state(engine: Engine, connection_id: int) -> tuple[Any, ...]:
    with engine.connect() as db:
        row = db.execute(
            text(
                "SELECT status, status_reason, access_token IS NULL, refresh_token IS NULL,"
                " revoked_at IS NOT NULL, backfill_status, backfill_error"
                " FROM vendor_connection WHERE id = :id"
            ),
            {"id": connection_id},
        ).one()
    return tuple(row)


def test_the_latest_link_of_an_account_is_kept_and_the_others_revoked(fresh_url: str) -> None:
    upgrade(fresh_url, "0006")
    engine = create_engine(normalise_url(fresh_url))
    try:
        attacker, victim, third, fourth = (_user(engine, f"{n}@example.org") for n in ("a", "v", "t", "f"))
        # The hijack: the attacker linked the victim's Oura account first (its backfill still
        # running), the victim linked it again later.
        hijacked = _connection(
            engine, attacker, "oura", "linked", "o-1", linked_at=T0, backfill_status="running"
        )
        relinked = _connection(engine, victim, "oura", "linked", "o-1", linked_at=T0 + timedelta(days=2))
        # Same account on WHOOP, one of them already revoked: nothing to resolve.
        gone = _connection(engine, attacker, "whoop", "revoked", "w-1", linked_at=T0, access_token=None)
        whoop = _connection(engine, victim, "whoop", "linked", "w-1", linked_at=T0)
        # A tie on linked_at (and a needs_relink one): the later row is the later link.
        tie_old = _connection(engine, third, "oura", "needs_relink", "o-2", linked_at=T0)
        tie_new = _connection(engine, fourth, "oura", "linked", "o-2", linked_at=T0)
        # Google Health names nobody: two accounts without an id are not the same account.
        google = [
            _connection(engine, user, "google", "linked", None, linked_at=T0) for user in (third, fourth)
        ]

        upgrade(fresh_url)

        moved = ("revoked", "moved", True, True, True)
        assert _state(engine, hijacked) == (
            *moved,
            "failed",
            "stopped: the account was linked to another athlete",
        )
        assert _state(engine, relinked) == ("linked", None, False, False, False, None, None)
        assert _state(engine, gone)[:2] == ("revoked", None) and _state(engine, whoop)[0] == "linked"
        assert _state(engine, tie_old) == (*moved, None, None)
        assert _state(engine, tie_new)[0] == "linked"
        assert [_state(engine, g)[0] for g in google] == ["linked", "linked"]
        newcomer = _user(engine, "n@example.org")
        with pytest.raises(IntegrityError):  # and from now on the database refuses a second one
            _connection(engine, newcomer, "oura", "linked", "o-1")
        _connection(engine, newcomer, "oura", "revoked", "o-1")  # a dead link is no second owner
        # The way back and forth again: the revoked stay revoked, their tokens are gone (only
        # why is forgotten, with its column).
        command.downgrade(alembic_config(fresh_url), "0006")
        upgrade(fresh_url)
        assert _state(engine, hijacked)[:4] == ("revoked", None, True, True)
    finally:
        engine.dispose()
