"""Log lines name the trace they belong to (or "-")."""

from __future__ import annotations

import io
import logging

from opentelemetry.sdk.trace import TracerProvider

from perfhub.core.telemetry import LOG_FORMAT, TraceIdFilter


def test_each_line_names_its_trace() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(TraceIdFilter())
    logger = logging.getLogger("perfhub.test.trace_lines")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside any request")
        with TracerProvider().get_tracer("test").start_as_current_span("request") as span:
            logger.warning("inside a request")
            expected = format(span.get_span_context().trace_id, "032x")
    finally:
        logger.removeHandler(handler)
    outside, inside = stream.getvalue().splitlines()
    assert "[trace -]: outside any request" in outside
    assert f"[trace {expected}]: inside a request" in inside
