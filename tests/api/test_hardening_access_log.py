"""Security review, low finding: the access log recorded OAuth ``code``/``state`` and Oura's
verification token from query strings. Their values are now ``[redacted]`` (over real HTTP, with
uvicorn's own logging: tests/api/test_hardening_http.py).
"""

from __future__ import annotations

import logging

import pytest

from perfhub.core.access_log import (
    ACCESS_LOGGER,
    RedactQueryFilter,
    install_access_log_redaction,
    redact_query,
)


@pytest.mark.parametrize(
    "target, expected",
    [
        (
            "/api/v1/connections/oura/callback?code=abc&state=xyz",
            "/api/v1/connections/oura/callback?code=[redacted]&state=[redacted]",
        ),
        (
            "/api/v1/webhooks/oura?verification_token=t0k&challenge=c",
            "/api/v1/webhooks/oura?verification_token=[redacted]&challenge=c",
        ),
        (
            "/x?access_token=a&Client_Secret=b&error=denied",
            "/x?access_token=[redacted]&Client_Secret=[redacted]&error=denied",
        ),
        ("/x?st%61te=abc", "/x?st%61te=[redacted]"),  # encoded names are recognised too
        ("/x?from=2026-01-01&to=2026-02-01", "/x?from=2026-01-01&to=2026-02-01"),
        ("/x?code", "/x?code"),
        ("/x", "/x"),
    ],
)
def test_redact_query(target: str, expected: str) -> None:
    assert redact_query(target) == expected


def test_access_records_are_redacted_on_the_logger(caplog: pytest.LogCaptureFixture) -> None:
    install_access_log_redaction()
    install_access_log_redaction()  # idempotent
    logger = logging.getLogger(ACCESS_LOGGER)
    assert sum(isinstance(f, RedactQueryFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/cb?code=SEKRIT&state=S2", "1.1", 400)
    assert caplog.messages == ['127.0.0.1:5 - "GET /cb?code=[redacted]&state=[redacted] HTTP/1.1" 400']
