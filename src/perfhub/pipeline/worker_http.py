"""A worker's operations endpoints on its metrics port: ``/metrics``, ``/healthz`` and ``/readyz``.

``/healthz`` answers while the process serves at all. ``/readyz`` is 200 only while the worker
can do its work — its database answers, the bus is connected and none of its consumer, relay
or schedule tasks has died — and 503 problem+json naming what fails otherwise, so an
orchestrator can restart a stage that stopped consuming. Served from a daemon thread (WSGI, as
``prometheus_client`` serves metrics), reading the worker's state without touching its loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from perfhub.core.errors import PROBLEM_JSON

__all__ = ["WorkerState", "operations_app", "serve_operations"]

StartResponse = Callable[..., Any]


class WorkerState(Protocol):
    @property
    def healthy(self) -> bool: ...


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would fill the worker's log."""


def operations_app(
    worker: Callable[[], WorkerState | None], database_ok: Callable[[], bool]
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app: ``worker()`` is the running worker (None before it has started)."""
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            running = worker()
            checks = {"database": database_ok(), "stage": running is not None and running.healthy}
            if all(checks.values()):
                return _json(start_response, "200 OK", {"status": "ready", "checks": checks})
            failing = ", ".join(name for name, ok in checks.items() if not ok)
            problem = {
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": f"not ready: {failing}",
                "checks": checks,
            }
            return _json(start_response, "503 Service Unavailable", problem, PROBLEM_JSON)
        return metrics(environ, start_response)

    return app


def _json(
    start_response: StartResponse, status: str, body: dict[str, Any], media: str = "application/json"
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", media), ("Content-Length", str(len(data)))])
    return [data]


def serve_operations(
    host: str, port: int, worker: Callable[[], WorkerState | None], database_ok: Callable[[], bool]
) -> _ThreadingServer:
    """Serve :func:`operations_app` on ``host:port`` from a daemon thread; raises ``OSError``
    when the address cannot be bound."""
    server = make_server(
        host, port, operations_app(worker, database_ok), _ThreadingServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="perfhub-operations", daemon=True).start()
    return server
