"""The FastAPI application: lifespan, routers, error handlers and operations endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from perfhub import __version__
from perfhub.alerts.routes import router as alerts_router
from perfhub.auth.routes import router as me_router
from perfhub.core.errors import ServiceUnavailable, install_error_handlers, problem_response
from perfhub.ingest.routes import router as ingest_router
from perfhub.insights.routes import router as insights_router
from perfhub.normalize.routes import router as data_router
from perfhub.runtime import Runtime
from perfhub.settings import Settings, get_settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, run_workers: bool = True) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            # Events committed before a crash are still in the outbox: this replays them.
            runtime.bus.start()
        try:
            yield
        finally:
            runtime.close()

    app = FastAPI(
        title="perfhub",
        version=__version__,
        description="Wearable HRV, sleep and explainable readiness for athletes and coaches.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.sessions = runtime.sessions
    app.state.settings = settings
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(ingest_router)
    api.include_router(data_router)
    api.include_router(insights_router)
    api.include_router(alerts_router)
    api.include_router(me_router)
    app.include_router(api)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], response_model=None)
    def readyz() -> Any:
        checks = {"database": runtime.database_ok(), "bus": runtime.bus_ok()}
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        return problem_response(ServiceUnavailable(f"not ready: {failing}", checks=checks))

    return app
