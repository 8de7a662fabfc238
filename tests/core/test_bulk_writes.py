"""Bulk writes on both databases: upserts settle duplicates like row-by-row ones, events are
published many at a time, and consumers claim deliveries exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, select

from perfhub.auth.service import create_user
from perfhub.core.db import session_scope
from perfhub.core.outbox import OutboxDelivery, OutboxRow, claim_deliveries, mark_deliveries, publish_many
from perfhub.core.upsert import upsert
from perfhub.pipeline.runtime import Runtime
from perfhub.readings.models import HrvDaily
from perfhub.settings import Settings

pytestmark = pytest.mark.backends("sqlite", "postgres")

T0 = datetime(2026, 1, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings)
    yield rt
    rt.close()


def _athlete(runtime: Runtime) -> int:
    with session_scope(runtime.sessions) as session:
        return create_user(session, "bulk@example.org", "athlete")[0].id


def _hrv(user_id: int, day: date, rmssd: float | int, captured: datetime) -> dict[str, object]:
    return {"user_id": user_id, "date": day, "vendor": "oura", "rmssd_ms": rmssd, "captured_at": captured}


def test_upsert_settles_duplicate_keys_like_row_by_row_upserts(runtime: Runtime) -> None:
    athlete = _athlete(runtime)
    day, other = date(2026, 1, 1), date(2026, 1, 2)
    table = cast(Table, HrvDaily.__table__)
    with session_scope(runtime.sessions) as session:
        upsert(
            session,
            table,
            [
                _hrv(athlete, day, 50, T0),  # an int among floats
                _hrv(athlete, day, 61.5, T0 + timedelta(hours=1)),
                _hrv(athlete, day, 62.5, T0 + timedelta(hours=1)),  # same time, later in the batch: wins
                _hrv(athlete, day, 40.0, T0),  # older: loses
                _hrv(athlete, other, 55, T0),
            ],
            ("user_id", "date", "vendor"),
            newer_column="captured_at",
        )
    with session_scope(runtime.sessions) as session:
        # An older delivery arriving later changes nothing; a newer one replaces the row.
        upsert(
            session,
            table,
            [_hrv(athlete, day, 10.0, T0), _hrv(athlete, other, 57.5, T0 + timedelta(days=1))],
            ("user_id", "date", "vendor"),
            newer_column="captured_at",
        )
    with runtime.sessions() as session:
        rows = session.execute(select(HrvDaily.date, HrvDaily.rmssd_ms).order_by(HrvDaily.date)).all()
    assert [tuple(row) for row in rows] == [(day, 62.5), (other, 57.5)]


def test_publish_many_records_every_event_in_the_callers_transaction(runtime: Runtime) -> None:
    athlete = _athlete(runtime)
    with pytest.raises(RuntimeError), session_scope(runtime.sessions) as session:
        publish_many(session, "probe.subject", [({"n": 0}, athlete)])
        raise RuntimeError("rolled back")
    with session_scope(runtime.sessions) as session:
        publish_many(
            session, "probe.subject", [({"n": 1}, athlete), ({"n": 2, "nested": [1, {"a": None}]}, None)]
        )
        assert session.info["perfhub_published"] is True
    with runtime.sessions() as session:
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
    assert [(r.subject, r.payload, r.user_id, r.published_at) for r in rows] == [
        ("probe.subject", {"n": 1}, athlete, None),
        ("probe.subject", {"n": 2, "nested": [1, {"a": None}]}, None, None),
    ]


def test_claim_deliveries_takes_each_event_once(runtime: Runtime) -> None:
    with session_scope(runtime.sessions) as session:
        publish_many(session, "probe.subject", [({"n": n}, None) for n in range(3)])
    with runtime.sessions() as session:
        done, retrying, fresh = session.scalars(select(OutboxRow.id).order_by(OutboxRow.id)).all()
    with session_scope(runtime.sessions) as session:
        mark_deliveries(session, "probe", [done], "done")
        session.add(OutboxDelivery(consumer="probe", outbox_id=retrying, status="retry", attempts=1))
    with session_scope(runtime.sessions) as session:
        assert claim_deliveries(session, "probe", [fresh, done, retrying, fresh]) == {fresh, retrying}
    with session_scope(runtime.sessions) as session:
        assert claim_deliveries(session, "probe", [fresh, done, retrying]) == set()
        assert claim_deliveries(session, "other", [done]) == {done}  # per consumer
    with runtime.sessions() as session:
        settled = session.execute(
            select(OutboxDelivery.outbox_id, OutboxDelivery.status, OutboxDelivery.attempts)
            .where(OutboxDelivery.consumer == "probe")
            .order_by(OutboxDelivery.outbox_id)
        ).all()
    assert [tuple(row) for row in settled] == [(done, "done", 1), (retrying, "done", 2), (fresh, "done", 1)]
