"""Each dead letter is logged as a warning with its trace id, and without its payload or reason
(both may quote health values)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.orm import Session

from perfhub.core.outbox import DeadLetter, dead_letter

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_dead_letter_is_a_warning_naming_its_trace_but_no_health_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = Session()  # add() only: nothing is flushed
    with caplog.at_level(logging.WARNING, logger="perfhub.core.outbox"):
        row = dead_letter(
            session,
            "vendor.data.received",
            {"rmssd": 523.1, "userId": 7},
            "rMSSD 523.1 ms is out of range",
            consumer="normalize",
            attempts=3,
            headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
        )
    assert isinstance(row, DeadLetter) and row in session.new
    (record,) = [r for r in caplog.records if r.name == "perfhub.core.outbox"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "vendor.data.received" in message and "normalize" in message and TRACE in message
    assert "523.1" not in message


def test_without_a_trace_the_line_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="perfhub.core.outbox"):
        dead_letter(Session(), "data.normalized", {}, "malformed", consumer="insights")
    assert caplog.records[-1].getMessage().endswith("trace -")
