"""How the typed errors of :mod:`perfhub.core.errors` reach HTTP clients: problem+json bodies,
the exception handlers, and their description in the OpenAPI document (:data:`API_PROBLEMS`,
:func:`problem_schemas`) with the shapes actually sent, so that clients and fuzzers can check
every error answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from perfhub.core.errors import (
    PROBLEM_JSON,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PerfhubError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from perfhub.core.telemetry import trace_id


def problem_response(error: PerfhubError, request: Request | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if isinstance(error, TooManyRequests):
        headers = {"Retry-After": str(error.retry_after)}
    instance = request.url.path if request is not None else None
    body = error.to_problem(instance)
    # The request's trace, so a report of an error leads straight to its spans and log lines.
    if (trace := trace_id()) is not None:
        body["traceId"] = trace
    return JSONResponse(body, status_code=error.status, media_type=PROBLEM_JSON, headers=headers)


class Problem(BaseModel):
    """An error answer (RFC 9457). Some carry more members, such as ``reason`` on a 404 for a
    readiness that has no score yet."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str = Field(description="what went wrong, for people")
    instance: str | None = Field(default=None, description="the path that was requested")
    traceId: str | None = Field(
        default=None, description="the request's OpenTelemetry trace id, for reports and the logs"
    )


class ProblemError(BaseModel):
    loc: list[str | int] = Field(description="where: `body`, `query` or `path`, then the field")
    msg: str


class ValidationProblem(Problem):
    """A 422: the request was understood but its content is not acceptable."""

    errors: list[ProblemError]


_STATUS_TEXT = {
    400: "Bad request: a parameter or body that could not be read",
    401: "No token, or a token that is unknown, expired or revoked",
    403: "Authenticated, but not allowed",
    404: "No such resource, or one the caller may not know of",
    409: "Conflicts with the current state",
    413: "The request body is larger than this endpoint accepts",
    422: "Invalid request",
    429: "Too many attempts; retry after the number of seconds in Retry-After",
    503: "A service this request needs is unavailable; retry later",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for routes and routers: these statuses as ``application/problem+json``."""
    return {
        status: {
            "description": _STATUS_TEXT[status],
            "content": {
                PROBLEM_JSON: {
                    "schema": {
                        "$ref": "#/components/schemas/"
                        + (ValidationProblem.__name__ if status == 422 else Problem.__name__)
                    }
                }
            },
        }
        for status in statuses
    }


# What any /api/v1 operation may answer besides its success: authentication, the body limits
# and validation apply to every one, and the database may be unreachable.
API_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)


def problem_schemas() -> dict[str, Any]:
    """The JSON schemas :func:`problem_responses` refers to, for ``components.schemas``."""
    _, top = models_json_schema(
        [(Problem, "serialization"), (ValidationProblem, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    return dict(top["$defs"])


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(err.get("loc", ())), "msg": str(err.get("msg", ""))} for err in exc.errors()]


_HTTP_ERRORS: dict[int, type[PerfhubError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    503: ServiceUnavailable,
}


PageErrors = Callable[[Request, PerfhubError], Response | None]


def install_error_handlers(app: FastAPI, page_errors: PageErrors | None = None) -> None:
    """Every error becomes a problem+json answer, except where ``page_errors`` (the web pages)
    answers a person's browser with a page of its own."""

    def answer(request: Request, error: PerfhubError) -> Response:
        if page_errors is not None:
            page = page_errors(request, error)
            if page is not None:
                return page
        return problem_response(error, request)

    @app.exception_handler(PerfhubError)
    async def _perfhub(request: Request, exc: PerfhubError) -> Response:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3])
        return answer(request, Unprocessable(f"Invalid request: {summary}", errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        error_cls = _HTTP_ERRORS.get(exc.status_code)
        if error_cls is None:
            error = PerfhubError(str(exc.detail))
            error.status, error.title = exc.status_code, str(exc.detail)
        else:
            error = error_cls(str(exc.detail) if exc.detail else None)
        return answer(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return answer(request, PerfhubError("An unexpected error occurred."))
