"""Database errors name no health value — neither the statement's bound parameters nor
PostgreSQL's DETAIL line quoting the failing row — in their messages, from which span statuses
and logs are made. Real SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from perfhub.auth.service import create_user
from perfhub.core.db import make_engine, make_sessionmaker, session_scope
from perfhub.readings.models import HrvDaily

pytestmark = pytest.mark.backends("sqlite", "postgres")


def test_a_failing_statement_names_no_parameter_value(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        with session_scope(sessions) as session:
            user, _ = create_user(session, f"hide-{uuid.uuid4().hex[:8]}@example.org", "athlete")
        with pytest.raises(IntegrityError) as caught, session_scope(sessions) as session:
            # A NOT NULL column left empty, next to values that must not be shown.
            session.execute(
                insert(HrvDaily).values(
                    user_id=user.id,
                    date=date(2026, 11, 29),
                    rmssd_ms=61.234,
                    vendor=None,
                    captured_at=datetime(2026, 11, 29, 6, tzinfo=UTC),
                )
            )
        text = str(caught.value)
        assert "hrv_daily" in text and "vendor" in text  # the statement and the column, to debug
        assert "61.234" not in text and "2026-11-29" not in text and "DETAIL" not in text
        assert "61.234" not in str(caught.value.orig)
        assert "[parameters:" not in text and "[SQL parameters hidden" in text
    finally:
        engine.dispose()
