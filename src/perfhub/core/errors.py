"""The one typed error family, rendered as ``application/problem+json`` (RFC 9457).

Hierarchy::

    PerfhubError (500)
    ├── BadRequest (400)
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── NotFound (404)        — may carry a machine-readable ``reason``
    ├── Conflict (409)
    ├── PayloadTooLarge (413)
    ├── Unprocessable (422)   — carries ``errors: [{loc, msg}]``
    ├── TooManyRequests (429) — carries ``retryAfter`` seconds
    └── ServiceUnavailable (503)

Services raise these; the HTTP layer renders them (:mod:`perfhub.core.problems`) and the CLI
prints their ``detail``. This module imports no web framework, so pure code may raise them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://perfhub.dev/problems/"


class PerfhubError(Exception):
    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(PerfhubError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(PerfhubError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(PerfhubError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(PerfhubError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(PerfhubError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(PerfhubError):
    status, title, slug = 413, "Content Too Large", "too-large"


class Unprocessable(PerfhubError):
    status, title, slug = 422, "Unprocessable Content", "validation"

    def __init__(self, detail: str, errors: Sequence[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=list(errors or [{"loc": [], "msg": detail}]))


class TooManyRequests(PerfhubError):
    status, title, slug = 429, "Too Many Requests", "rate-limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retryAfter=retry_after)
        self.retry_after = retry_after


class ServiceUnavailable(PerfhubError):
    status, title, slug = 503, "Service Unavailable", "unavailable"
