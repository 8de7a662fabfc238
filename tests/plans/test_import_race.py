"""Two imports of the same calendar at once (a double click) on PostgreSQL: the one that loses
the race for the sessions' UIDs runs again and finds them — one set of sessions, no error."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from tests.conftest import Harness
from tests.plans.plankit import NOON
from tests.teams.teamkit import API

from perfhub.auth.models import User
from perfhub.core.db import retry_on_conflict
from perfhub.core.errors import Conflict
from perfhub.plans.importing import parse_file
from perfhub.plans.imports_service import import_sessions
from perfhub.plans.models import PlannedSession

pytestmark = pytest.mark.backends("postgres")

CALENDAR = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:race-1\r\nDTSTART:20260312T070000Z\r\nDURATION:PT50M\r\n"
    b"SUMMARY:Tempo run\r\nEND:VEVENT\r\n"
    b"BEGIN:VEVENT\r\nUID:race-2\r\nDTSTART:20260313T070000Z\r\nDURATION:PT30M\r\n"
    b"SUMMARY:Easy swim\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)


def waiting_on_a_lock(harness: Harness) -> bool:
    with harness.runtime.sessions() as session:
        waiting = session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def test_the_import_that_loses_the_race_finds_the_sessions_and_answers_200(harness: Harness) -> None:
    athlete = harness.user("athlete")
    with time_machine.travel(NOON, tick=False):
        # The first import has created the sessions and not yet committed.
        first = harness.runtime.sessions()
        person = first.get(User, athlete["id"])
        assert person is not None
        plan = parse_file(CALENDAR, tz="UTC", today=NOON.date(), filename="plan.ics")
        assert import_sessions(first, None, person, plan).created == 2
        first.flush()

        answer: dict[str, Any] = {}

        def second() -> None:
            response = harness.client.post(
                f"{API}/plan/import",
                content=CALENDAR,
                headers={**athlete["headers"], "Content-Type": "text/calendar"},
            )
            answer["status"], answer["body"] = response.status_code, response.json()

        racer = threading.Thread(target=second)
        racer.start()
        deadline = time.monotonic() + 20
        while not waiting_on_a_lock(harness):
            assert racer.is_alive(), answer
            assert time.monotonic() < deadline, "the second import never reached the sessions' UIDs"
            time.sleep(0.05)
        first.commit()  # the second import's inserts now fail on the UIDs …
        first.close()
        racer.join(timeout=30)

    # … and its second attempt finds them, as a re-import would.
    assert answer["status"] == 200, answer
    assert (answer["body"]["created"], answer["body"]["unchanged"], answer["body"]["errors"]) == (0, 2, [])
    with harness.runtime.sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(PlannedSession).where(PlannedSession.athlete_id == athlete["id"])
        )
    assert count == 2


def test_a_unit_of_work_that_keeps_losing_gives_up_with_a_conflict() -> None:
    calls = []

    def always() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(Conflict, match="send it again"):
        retry_on_conflict(always, gave_up="send it again", attempts=3)
    assert len(calls) == 3
    assert retry_on_conflict(lambda: "landed", gave_up="") == "landed"
