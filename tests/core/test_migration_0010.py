"""0010: the access log's paging indexes, and on SQLite a person's id is never handed out again —
the table is rebuilt for it, and nothing that hangs off a person is lost on the way."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, text
from tests.wearables.test_link_hijack_migration import fresh_url  # noqa: F401  (the fixture)

from perfhub.core.db import normalise_url
from perfhub.core.migrate import alembic_config, upgrade

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_people_keep_their_rows_and_ids_are_not_reused(fresh_url: str) -> None:  # noqa: F811
    upgrade(fresh_url, "0009")
    engine = create_engine(normalise_url(fresh_url))
    insert_person = text(
        "INSERT INTO user_account (email, name, role, tz, sleep_need_min, created_at)"
        " VALUES (:email, :email, 'athlete', 'UTC', 480, :at)"
    )
    try:
        with engine.begin() as db:
            for email in ("first@example.org", "second@example.org"):
                db.execute(insert_person, {"email": email, "at": T0})
            last = db.scalar(text("SELECT max(id) FROM user_account"))
            db.execute(
                text(
                    "INSERT INTO api_token (name, token_hash, prefix, user_id, scopes, revoked, created_at)"
                    " VALUES ('t', :hash, 'ph_x', :user, '[]', false, :at)"
                ),
                {"hash": "a" * 64, "user": last, "at": T0},
            )
        upgrade(fresh_url, "0010")
        with engine.begin() as db:
            assert db.scalar(text("SELECT count(*) FROM api_token WHERE user_id = :u"), {"u": last}) == 1
            db.execute(text("DELETE FROM api_token"))
            db.execute(text("DELETE FROM user_account WHERE id = :u"), {"u": last})
            db.execute(insert_person, {"email": "third@example.org", "at": T0})
            assert db.scalar(text("SELECT id FROM user_account WHERE email = 'third@example.org'")) > last
        command.downgrade(alembic_config(fresh_url), "0009")
        with engine.begin() as db:
            assert db.scalar(text("SELECT count(*) FROM user_account")) == 2
    finally:
        engine.dispose()
