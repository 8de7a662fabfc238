"""Prometheus metrics shared by the API and the workers (one registry per process)."""

from __future__ import annotations

from contextlib import suppress

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

INGEST_LAG = Histogram(
    "perfhub_ingest_lag_seconds",
    "Delivery (vendor capture or request receipt) to readiness persisted",
    # 900 s: the "lag p99 over 15 minutes" alert reads an exact bucket edge.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400),
)
NORMALIZATION_FAILURES = Counter(
    "perfhub_normalization_failures_total", "Landed payloads that could not be normalised", ["reason"]
)
DEAD_LETTERS = Counter("perfhub_dead_letters_total", "Messages moved to the dead-letter store", ["subject"])
FORGED_MESSAGES = Counter(
    "perfhub_forged_messages_total", "Bus messages rejected for a missing or invalid signature", ["subject"]
)
EVENTS_PROCESSED = Counter("perfhub_events_processed_total", "Events handled by a consumer", ["consumer"])
OUTBOX_BACKLOG = Gauge("perfhub_outbox_backlog", "Committed outbox rows not yet published to the bus")
CONSUMER_PENDING = Gauge("perfhub_consumer_pending", "Messages waiting for a durable consumer", ["consumer"])
WEEKLY_INSIGHTS_WRITTEN = Counter(
    "perfhub_weekly_insights_written_total",
    "Weekly insights written (made or remade because their inputs changed), by what asked for them",
    ["trigger"],  # sweep (Monday morning), read (first read of a due week), late_data
)
INSIGHTS_COVERAGE = Gauge(
    "perfhub_insights_coverage_ratio",
    "Share of the athletes whose night has arrived (a reading dated their local today) with a readiness"
    " score for that day",
)
INSIGHTS_NIGHTS_ARRIVED = Gauge(
    "perfhub_insights_nights_arrived",
    "Athletes whose night has arrived (an HRV or sleep reading dated their local today): the"
    " coverage ratio's denominator",
)
HTTP_REQUESTS = Counter(
    "perfhub_http_requests_total",
    "API and page requests answered, by method, route template (never the raw path) and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "perfhub_http_request_duration_seconds",
    "Time to answer a request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RELAY_PUBLISHED = Counter(
    "perfhub_relay_published_total", "Outbox rows published to the bus and acknowledged"
)
RELAY_ERRORS = Counter("perfhub_relay_errors_total", "Relay rounds that failed (rows stay claimable)")
OUTBOX_OLDEST_AGE = Gauge(
    "perfhub_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest committed outbox row not yet published (0 when none waits)",
)
STAGE_UP = Gauge(
    "perfhub_stage_up",
    "1 while this process's stage consumes (bus connected, every consumer task alive); 0 once a"
    " task died or the stage stopped",
    ["stage"],
)

# Read from the database, so reported by one process only (the API): the same figure from every
# worker would be summed or averaged into nonsense by a dashboard.
DATABASE_GAUGES = (OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, INSIGHTS_COVERAGE, INSIGHTS_NIGHTS_ARRIVED)


def drop_database_gauges() -> None:
    """Leave :data:`DATABASE_GAUGES` out of this process's /metrics (a ``perfhub worker``):
    exported unset they would read 0, which looks like an empty backlog and no coverage."""
    for gauge in DATABASE_GAUGES:
        with suppress(KeyError):  # already dropped
            REGISTRY.unregister(gauge)
