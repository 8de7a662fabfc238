"""OpenTelemetry: one trace from the HTTP request through every consumer.

Context travels in the outbox row's headers (captured at publish time) and from there in
the bus message headers; consumers continue the trace with a CONSUMER span. Where no exporter
is configured nobody would ever see the bus's spans, so they are skipped and the context is
carried on unchanged: the trace id still runs from the request through every consumer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

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


# While a stage handles a batch: each athlete's trace context (that of the message about them),
# so that what the stage publishes for an athlete continues the trace of the request it came from.
_ORIGINS: ContextVar[Mapping[int, dict[str, str]] | None] = ContextVar("perfhub_trace_origins", default=None)


def headers_for(user_id: int | None) -> dict[str, str]:
    """Trace headers for an event about ``user_id``: the context of the message about that
    athlete in the batch being handled, else the active context."""
    origins = _ORIGINS.get()
    if origins is not None and user_id is not None and user_id in origins:
        return dict(origins[user_id])
    return current_headers()


@contextmanager
def message_spans(
    messages: Sequence[tuple[Mapping[str, str] | None, int | None]],
    name: str,
    kind: SpanKind,
    **attributes: str,
) -> Iterator[None]:
    """One span per message of a batch, each the child of that message's own context (no
    message borrows another's trace), open while the batch is handled; meanwhile
    :func:`headers_for` hands out each athlete's message context, and the first message's is
    the active one. ``messages`` are ``(headers, user id)``. Without tracing no span is made and
    the messages' contexts are carried on unchanged."""
    spans: list[Span] = []
    origins: dict[int, dict[str, str]] = {}
    first: context.Context | None = None
    traced = tracing_enabled()
    try:
        for headers, user_id in messages:
            ctx = propagate.extract(headers or {})
            if traced:
                span = tracer.start_span(name, context=ctx, kind=kind, attributes=attributes)
                spans.append(span)
                ctx = trace.set_span_in_context(span, ctx)
            first = ctx if first is None else first
            if user_id is not None:
                carrier: dict[str, str] = {}
                propagate.inject(carrier, context=ctx)
                origins[user_id] = carrier
        token = _ORIGINS.set(origins)
        attached = context.attach(first) if first is not None else None
        try:
            yield
        except BaseException as exc:
            for span in spans:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            if attached is not None:
                context.detach(attached)
            _ORIGINS.reset(token)
    finally:
        for span in spans:
            span.end()


def start_producer_span(
    headers: Mapping[str, str] | None, name: str, **attributes: str
) -> tuple[Span, dict[str, str]]:
    """A PRODUCER span, child of ``headers``' context, and the headers that continue from it.
    The caller ends it — on the broker's acknowledgement, so its length is the publish's."""
    ctx = propagate.extract(headers or {})
    span = tracer.start_span(name, context=ctx, kind=SpanKind.PRODUCER, attributes=attributes)
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span, ctx))
    return span, carrier


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


# Every log line of the processes names the trace it belongs to (or "-"), so a line leads to the
# request's spans and a trace to its lines.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [trace %(trace_id)s]: %(message)s"


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` (the active span's, or "-") to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = trace_id() or "-"
        return True


def configure_logging(level: str | int) -> None:
    """Root logging for a perfhub process: :data:`LOG_FORMAT`, with the trace id on every line."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TraceIdFilter) for f in handler.filters):
            handler.addFilter(TraceIdFilter())
