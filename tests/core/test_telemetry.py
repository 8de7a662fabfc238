"""Without an exporter the bus makes no spans, yet the trace still runs on through every stage."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from perfhub.core import telemetry

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_without_an_exporter_a_consumer_carries_the_trace_on_without_a_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telemetry, "_exporting", False)
    assert not telemetry.tracing_enabled()
    with telemetry.span_from({"traceparent": TRACEPARENT}, "probe process", SpanKind.CONSUMER) as span:
        assert not span.is_recording()
        # What the handler publishes carries the same trace (and parent) on.
        assert telemetry.current_headers()["traceparent"] == TRACEPARENT
    assert "traceparent" not in telemetry.current_headers()
