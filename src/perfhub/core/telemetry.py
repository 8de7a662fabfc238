"""OpenTelemetry: one trace from the HTTP request through every consumer.

Context travels in the outbox row's headers (captured at publish time) and from there in
the bus message headers; consumers continue the trace with a CONSUMER span.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind

from perfhub.settings import Settings

tracer = trace.get_tracer("perfhub")
_provider: TracerProvider | None = None


def setup_tracing(settings: Settings, exporter: SpanExporter | None = None) -> None:
    """Install the tracer provider once per process; export over OTLP/HTTP when configured.

    A later call may add an exporter (tests attach an in-memory one).
    """
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        trace.set_tracer_provider(_provider)
        if settings.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(exporter))


def current_headers() -> dict[str, str]:
    """The active trace context as W3C headers (``traceparent``/``tracestate``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def span_from(
    headers: Mapping[str, str] | None, name: str, kind: SpanKind, **attributes: str
) -> Iterator[Span]:
    """A span whose parent is the context carried in ``headers`` (if any)."""
    parent = propagate.extract(dict(headers or {}))
    token = context.attach(parent)
    try:
        with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span
    finally:
        context.detach(token)
