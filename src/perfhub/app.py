"""The FastAPI application: lifespan, routers, error handlers and operations endpoints."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from perfhub import __version__
from perfhub.alerts.routes import router as alerts_router
from perfhub.auth.deps import authenticate_in_own_transaction
from perfhub.auth.routes import router as tokens_router
from perfhub.core.access_log import install_access_log_redaction
from perfhub.core.errors import ServiceUnavailable
from perfhub.core.http_metrics import RequestMetrics
from perfhub.core.limits import RequestLimits, route_limits
from perfhub.core.outage import install_outage_handler
from perfhub.core.problems import (
    API_PROBLEMS,
    install_error_handlers,
    problem_response,
    problem_responses,
    problem_schemas,
)
from perfhub.core.telemetry import setup_tracing
from perfhub.insights.routes import router as weekly_router
from perfhub.pipeline.runtime import Runtime
from perfhub.pipeline.stages import STAGES
from perfhub.pipeline.workers import BusRuntime
from perfhub.plans.adherence_routes import router as adherence_router
from perfhub.plans.import_routes import router as plan_import_router
from perfhub.plans.routes import router as plans_router
from perfhub.privacy.routes import router as audit_router
from perfhub.profile.routes import router as me_router
from perfhub.readiness.routes import router as insights_router
from perfhub.readiness.team_routes import router as team_readiness_router
from perfhub.readings.routes import ingest_router
from perfhub.readings.routes import router as data_router
from perfhub.reports.routes import router as reports_router
from perfhub.settings import Settings, get_settings
from perfhub.teams.routes import router as teams_router
from perfhub.training.routes import router as training_router
from perfhub.wearables.apple.routes import router as import_router
from perfhub.wearables.routes import router as connections_router
from perfhub.web.errors import page_error
from perfhub.web.routes import router as web_router
from perfhub.web.security import csrf_key
from perfhub.web.templating import STATIC_DIR

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, run_workers: bool = True) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime.build(settings)

    setup_tracing(settings)
    install_access_log_redaction()
    nats_side: BusRuntime | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal nats_side
        if runtime.uses_nats:
            # The API relays its own outbox; the stages run here too unless --no-workers.
            nats_side = BusRuntime(settings, runtime.sessions, list(STAGES) if run_workers else [])
            app.state.nats = nats_side
            await nats_side.start()
        elif run_workers:
            # Events committed before a crash are still in the outbox: this replays them.
            runtime.bus.start()
            runtime.start_reconciler()
        try:
            yield
        finally:
            if nats_side is not None:
                await nats_side.stop()
            runtime.close()

    app = FastAPI(
        title="perfhub",
        version=__version__,
        description="Wearable HRV, sleep and explainable readiness for athletes and coaches.",
        lifespan=lifespan,
    )
    app.openapi = lambda: _openapi_with_problems(app)  # type: ignore[method-assign]
    app.state.runtime = runtime
    app.state.sessions = runtime.sessions
    app.state.settings = settings
    app.state.csrf_key = csrf_key(settings.resolved_secret_key())
    install_error_handlers(app, page_errors=page_error)
    install_outage_handler(app)
    app.add_middleware(
        RequestLimits,
        settings=settings,
        authenticate=lambda token: authenticate_in_own_transaction(runtime.sessions, token),
        routes=route_limits(API_PREFIX),
    )
    # Outermost: counts every answer, the edge's 401/413/429 included.
    app.add_middleware(RequestMetrics)

    # Every operation under the API documents the problems any of them may answer (401, 413 and
    # 422 come from the edge for all of them), so that clients and fuzzers can check them.
    api = APIRouter(prefix=API_PREFIX, responses=API_PROBLEMS)
    api.include_router(ingest_router)
    api.include_router(data_router)
    api.include_router(insights_router)
    api.include_router(team_readiness_router)
    api.include_router(weekly_router)
    api.include_router(alerts_router)
    api.include_router(me_router)
    api.include_router(audit_router)
    api.include_router(tokens_router)
    api.include_router(import_router)
    api.include_router(connections_router)
    api.include_router(teams_router)
    api.include_router(plans_router)
    api.include_router(plan_import_router)
    api.include_router(adherence_router)
    api.include_router(training_router)
    api.include_router(reports_router)
    app.include_router(api)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], response_model=None, responses=problem_responses(503))
    def readyz() -> Any:
        bus_ok = nats_side.healthy if nats_side is not None else runtime.bus_ok()
        checks = {"database": runtime.database_ok(), "bus": bus_ok}
        if not checks["database"]:
            return problem_response(ServiceUnavailable("not ready: database", checks=checks))
        # Requests are served from the database; the outbox keeps what they publish until the
        # bus is back, so a bus outage delays delivery and is reported, not refused.
        return {"status": "ready" if bus_ok else "degraded", "checks": checks}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics() -> Response:
        if nats_side is None:
            update_embedded_gauges(runtime)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # One SERVER span per request; none per chunk received or sent (a streamed CSV sends hundreds).
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    return app


def create_api_app() -> FastAPI:
    """The API alone, its settings read from the environment: what each process of
    ``perfhub serve --processes N`` serves. The consumers never run here (they must run once,
    so elsewhere: ``--processes`` above 1 needs ``--no-workers``)."""
    return settle_heap(create_app(get_settings(), run_workers=False))


def settle_heap(app: FastAPI) -> FastAPI:
    """Move everything built so far (the app, its routes, the schema's metadata) out of the
    garbage collector's sight before serving: a full collection then scans only what requests
    make, not the whole program, which keeps its pauses out of the slowest responses. For the
    serving process only (a test process builds many apps and would keep them all)."""
    gc.collect()
    gc.freeze()
    return app


def _openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the problem schemas the shared error responses refer to."""
    if app.openapi_schema is None:
        document = FastAPI.openapi(app)
        document.setdefault("components", {}).setdefault("schemas", {}).update(problem_schemas())
        app.openapi_schema = document
    return app.openapi_schema


def update_embedded_gauges(runtime: Runtime) -> None:
    """Embedded bus: the backlog is what the in-process consumers still have to deliver."""
    from perfhub.core.metrics import INSIGHTS_COVERAGE, INSIGHTS_NIGHTS_ARRIVED, OUTBOX_BACKLOG
    from perfhub.readiness.service import coverage_counts

    OUTBOX_BACKLOG.set(runtime.bus.pending())
    with runtime.sessions() as session:
        counts = coverage_counts(session)
    INSIGHTS_NIGHTS_ARRIVED.set(counts.arrived)
    if counts.ratio is not None:
        INSIGHTS_COVERAGE.set(counts.ratio)
