"""0009 moves each team's coach into team_coach, keeps the access log through the change of its
subject column, and comes back down without losing a team that has a coach."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, text
from tests.wearables.test_link_hijack_migration import fresh_url  # noqa: F401  (the fixture)

from perfhub.core.db import normalise_url
from perfhub.core.migrate import alembic_config, upgrade

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _people(db: object, *emails: str) -> list[int]:
    ids = []
    for email in emails:
        db.execute(  # type: ignore[attr-defined]
            text(
                "INSERT INTO user_account (email, name, role, tz, sleep_need_min, created_at)"
                " VALUES (:email, :email, 'coach', 'UTC', 480, :at)"
            ),
            {"email": email, "at": T0},
        )
        ids.append(int(db.scalar(text("SELECT id FROM user_account WHERE email = :e"), {"e": email})))  # type: ignore[attr-defined]
    return ids


def test_coaches_move_into_team_coach_and_back(fresh_url: str) -> None:  # noqa: F811
    upgrade(fresh_url, "0008")
    engine = create_engine(normalise_url(fresh_url))
    try:
        with engine.begin() as db:
            coach, athlete = _people(db, "coach@example.org", "athlete@example.org")
            db.execute(
                text("INSERT INTO team (name, coach_id, created_at) VALUES ('Rowing', :coach, :at)"),
                {"coach": coach, "at": T0},
            )
            db.execute(
                text(
                    "INSERT INTO audit_log (at, actor_id, actor_role, subject_id, signals, path)"
                    " VALUES (:at, :coach, 'coach', :athlete, '[\"hrv\"]', '/api/v1/hrv/daily')"
                ),
                {"at": T0, "coach": coach, "athlete": athlete},
            )
        upgrade(fresh_url, "0009")
        with engine.begin() as db:
            assert db.execute(
                text("SELECT t.name, c.coach_id FROM team t JOIN team_coach c ON c.team_id = t.id")
            ).all() == [("Rowing", coach)]
            assert db.execute(text("SELECT subject_id, kind FROM audit_log")).all() == [(athlete, "read")]
            # The access log no longer depends on the person existing (erasure keeps its record).
            db.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": athlete})
            assert db.scalar(text("SELECT count(*) FROM audit_log")) == 1
            team_id = db.scalar(text("SELECT id FROM team"))
            db.execute(text("INSERT INTO team (name, created_at) VALUES ('Coachless', :at)"), {"at": T0})
            db.execute(
                text(
                    "INSERT INTO readiness_snapshot (user_id, date, algorithm_version, stale, drivers,"
                    " components, baselines, inputs_hash, computed_at)"
                    " VALUES (:u, '2026-11-01', '1', false, '[]', '[]', '{}', 'x', :at)"
                ),
                {"u": coach, "at": T0},
            )
            assert db.scalar(text("SELECT flags FROM readiness_snapshot")) in ([], "[]")
        command.downgrade(alembic_config(fresh_url), "0008")
        with engine.begin() as db:
            assert db.execute(text("SELECT id, name, coach_id FROM team")).all() == [
                (team_id, "Rowing", coach)
            ]
            # Rows about the erased person go with the foreign key coming back.
            assert db.scalar(text("SELECT count(*) FROM audit_log")) == 0
    finally:
        engine.dispose()
