"""0012: the sleep need may be unset (NULL: estimated from the athlete's nights). The 480 minutes
every account was given by default become NULL, a need someone chose stays; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from tests.wearables.test_link_hijack_migration import fresh_url  # noqa: F401  (the fixture)

from perfhub.core.db import normalise_url
from perfhub.core.migrate import alembic_config, upgrade

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
INSERT = text(
    "INSERT INTO user_account (email, name, role, tz, sleep_need_min, created_at)"
    " VALUES (:email, :email, 'athlete', 'UTC', :need, :at)"
)
NEEDS = text("SELECT email, sleep_need_min FROM user_account ORDER BY email")


def test_the_old_default_becomes_an_estimate_and_chosen_needs_stay(fresh_url: str) -> None:  # noqa: F811
    upgrade(fresh_url, "0011")
    engine = create_engine(normalise_url(fresh_url))
    try:
        with engine.begin() as db:
            for email, need in (("default@example.org", 480), ("short@example.org", 390)):
                db.execute(INSERT, {"email": email, "need": need, "at": T0})
            last = db.scalar(text("SELECT max(id) FROM user_account"))
        upgrade(fresh_url, "0012")
        with engine.begin() as db:
            assert db.execute(NEEDS).all() == [("default@example.org", None), ("short@example.org", 390)]
            # An account made now has no need until its athlete sets one.
            db.execute(text("DELETE FROM user_account WHERE id = :u"), {"u": last})
            db.execute(INSERT, {"email": "new@example.org", "need": None, "at": T0})
            # The table rebuilt on SQLite still never hands an id out twice (0010).
            assert db.scalar(text("SELECT id FROM user_account WHERE email = 'new@example.org'")) > last

        command.downgrade(alembic_config(fresh_url), "0011")
        with engine.begin() as db:
            assert db.execute(NEEDS).all() == [("default@example.org", 480), ("new@example.org", 480)]
        with pytest.raises(IntegrityError), engine.begin() as db:
            db.execute(INSERT, {"email": "unset@example.org", "need": None, "at": T0})
    finally:
        engine.dispose()
