"""The database is down or restarting: answer 503 with ``Retry-After`` instead of a 500 and a traceback.

Only failures to reach the server count (no SQLSTATE at all, class 08 "connection exception",
57P01–57P03 "shutting down / starting up"). A deadlock, a serialization failure or a locked
SQLite file is a different problem and keeps its own handling.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from perfhub.core.errors import PerfhubError, ServiceUnavailable
from perfhub.core.problems import problem_response

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
_SHUTTING_DOWN = {"57P01", "57P02", "57P03"}


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the database server cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            current = current.orig
            continue
        module = type(current).__module__
        if module.startswith("psycopg"):
            import psycopg

            if isinstance(current, psycopg.OperationalError | psycopg.InterfaceError):
                sqlstate = getattr(current, "sqlstate", None)
                return sqlstate is None or sqlstate.startswith("08") or sqlstate in _SHUTTING_DOWN
            return False
        current = current.__cause__ or current.__context__
    return False


def install_outage_handler(app: FastAPI) -> None:
    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if not database_unavailable(exc):
            log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
            return problem_response(PerfhubError("An unexpected error occurred."), request)
        # One line, no traceback: an outage is an operational state, not a bug.
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, _first_line(exc))
        response = problem_response(ServiceUnavailable("the database is unreachable; retry shortly"), request)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
