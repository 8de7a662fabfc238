"""Readiness snapshots written straight into their table, with chosen numbers, so that a week's
figures can be worked out by hand (the engine that makes real ones is tested elsewhere)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import Harness

from perfhub.core.db import session_scope
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow

API = "/api/v1"


def band_of(score: float) -> str:
    return "low" if score < 40 else "reduced" if score < 65 else "normal" if score < 85 else "elevated"


def put_day(
    harness: Harness,
    user_id: int,
    day: date,
    score: float | None,
    baselines: dict[str, float | None] | None = None,
    *,
    flags: tuple[str, ...] = (),
) -> None:
    """Write (or replace) the current algorithm's snapshot of ``day``."""
    put_day_in(harness.runtime.sessions, user_id, day, score, baselines, flags=flags)


def put_day_in(
    sessions: sessionmaker[Session],
    user_id: int,
    day: date,
    score: float | None,
    baselines: dict[str, float | None] | None = None,
    *,
    flags: tuple[str, ...] = (),
) -> None:
    """:func:`put_day` into the database of ``sessions`` (a live server's)."""
    with session_scope(sessions) as session:
        session.execute(
            delete(ReadinessSnapshotRow).where(
                ReadinessSnapshotRow.user_id == user_id, ReadinessSnapshotRow.date == day
            )
        )
        session.add(
            ReadinessSnapshotRow(
                user_id=user_id,
                date=day,
                algorithm_version=ALGORITHM_VERSION,
                score=score,
                band=None if score is None else band_of(score),
                status=None if score is None else "full",
                reason="no_recent_data" if score is None else None,
                stale=False,
                drivers=[],
                components=[],
                flags=list(flags),
                baselines=dict(baselines or {}),
                inputs_hash=f"seeded-{day}-{score}",
            )
        )


def full_day(**overrides: Any) -> dict[str, float | None]:
    """Baselines of a calm day: HRV inside its range, resting HR at baseline, 7.5 h asleep."""
    values: dict[str, float | None] = {
        "ln7": 4.2,
        "normalLow": 4.0,
        "normalHigh": 4.4,
        "restingHr": 50.0,
        "restingHrBaseline": 50.0,
        "sleepMin": 450.0,
        "debtHours": 1.0,
    }
    values.update(overrides)
    return values
