"""OpenTelemetry: one trace from the HTTP request through every consumer.

Context travels in the outbox row's headers (captured at publish time) and from there in
the bus message headers; consumers continue the trace with a CONSUMER span. Where no exporter
is configured nobody would ever see the bus's spans, so they are skipped and the context is
carried on unchanged: the trace id still runs from the request through every consumer.
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
_exporting = False


def setup_tracing(settings: Settings, exporter: SpanExporter | None = None) -> None:
    """Install the tracer provider once per process; export over OTLP/HTTP when configured.

    A later call may add an exporter (tests attach an in-memory one).
    """
    global _provider, _exporting
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        trace.set_tracer_provider(_provider)
        if settings.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
            _exporting = True
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(exporter))
        _exporting = True


def tracing_enabled() -> bool:
    """Whether spans go anywhere: ours with an exporter, or a provider someone else installed."""
    provider = trace.get_tracer_provider()
    return _exporting if provider is _provider else isinstance(provider, TracerProvider)


def current_headers() -> dict[str, str]:
    """The active trace context as W3C headers (``traceparent``/``tracestate``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def trace_id(headers: Mapping[str, str] | None = None) -> str | None:
    """The trace id (32 hex digits) of ``headers``' ``traceparent``, else of the active span;
    None when there is none. For logs and error bodies, so one trace can be found from them."""
    span = trace.get_current_span(propagate.extract(headers) if headers else None)
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


@contextmanager
def span_from(
    headers: Mapping[str, str] | None, name: str, kind: SpanKind, **attributes: str
) -> Iterator[Span]:
    """A span whose parent is the context carried in ``headers`` (if any); without tracing,
    that context itself, so what is published inside still carries the trace on."""
    token = context.attach(propagate.extract(headers or {}))
    try:
        if not tracing_enabled():
            yield trace.get_current_span()
            return
        with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span
    finally:
        context.detach(token)
