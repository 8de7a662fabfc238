"""Keep credentials out of the access log.

Some requests carry secrets in their query string because the caller cannot do otherwise: the
OAuth callback's ``code`` and ``state`` (the browser follows the vendor's redirect) and Oura's
webhook ``verification_token``. uvicorn's access log writes the whole query string, and logs
are kept longer and read by more people than the database is, so their values are replaced by
``[redacted]`` before the record is formatted.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
_SECRET_NAMES = frozenset({"code", "state"})
_SECRET_PARTS = ("token", "secret", "password", "signature")


def _is_secret(name: str) -> bool:
    name = name.lower()
    return name in _SECRET_NAMES or any(part in name for part in _SECRET_PARTS)


def redact_query(target: str) -> str:
    """``/path?code=abc&vendor=oura`` → ``/path?code=[redacted]&vendor=oura``; the path, the
    order and the encoding of everything else are kept, so the line still reads as sent."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    parts = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        parts.append(f"{name}={REDACTED}" if eq and _is_secret(unquote_plus(name)) else item)
    return f"{path}?{'&'.join(parts)}"


class RedactQueryFilter(logging.Filter):
    """For uvicorn's access records: ``(client, method, path_with_query, http_version, status)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], redact_query(args[2]), args[3], args[4])
        return True


def install_access_log_redaction() -> None:
    """Idempotent. On the logger, not a handler: it then holds whatever handlers uvicorn's
    logging configuration attaches later (``dictConfig`` keeps a logger's filters)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQueryFilter) for f in logger.filters):
        logger.addFilter(RedactQueryFilter())
