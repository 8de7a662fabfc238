"""Request metrics for the API and the pages: a plain ASGI middleware (no per-request task or
body buffering, as ``BaseHTTPMiddleware`` would add), labelled by route *template* so that
neither ids nor dates in paths reach the metrics."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfhub.core.metrics import HTTP_DURATION, HTTP_REQUESTS

__all__ = ["RequestMetrics"]

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The matched route's template with the prefix it was included under (``/api/v1``).

    The router stores the matched route in the scope (the same dict this middleware holds); an
    included router's route knows only its own part of the path, so the prefix is taken from the
    request path, which has as many segments more as the prefix has.
    """
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return UNMATCHED
    path = str(scope.get("path", ""))
    extra = path.count("/") - template.count("/")
    if extra > 0 and ":path}" not in template:
        template = "/".join(path.split("/")[: extra + 1]) + template
    return template


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # what the server answers if the app raises before responding

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = route_template(scope)
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_DURATION.labels(method, template).observe(perf_counter() - started)
