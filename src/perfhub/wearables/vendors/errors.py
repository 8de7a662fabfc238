"""The typed failures of vendor calls, webhook deliveries and mapping, all in one place.

::

    VendorError                 a vendor call failed; retrying as-is will not help
    ├── RateLimited             429 beyond the retry budget; ``retry_after`` says when to reschedule
    ├── VendorUnavailable       5xx or transport failures beyond the retry budget
    ├── Unauthorized            the access token was rejected: refresh, then try again
    ├── InvalidGrant            the refresh token or code was rejected: the athlete must relink
    ├── MissingScope            the link was granted without a scope a call needs: relink to grant it
    └── RecordNotFound          the vendor has no such record (any more)
    SignatureError              a webhook delivery failed verification: answer 401, nothing else
    MappingError (ValueError)   a vendor record cannot become a canonical payload: dead-letter it
                                (perfhub.readings.mapping's, shared with the ingest API's payloads)

``SignatureError`` and ``MappingError`` are not ``VendorError``: they come from what was sent to us,
not from a call we made, and callers answer them differently.
"""

from __future__ import annotations

# A record that cannot become canonical fails the canonical contract's own way (readings).
from perfhub.readings.mapping import MappingError

__all__ = [
    "InvalidGrant",
    "MappingError",
    "MissingScope",
    "RateLimited",
    "RecordNotFound",
    "SignatureError",
    "Unauthorized",
    "VendorError",
    "VendorUnavailable",
]


class VendorError(Exception):
    """A vendor call failed in a way retrying will not fix (bad request, forbidden, odd response)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimited(VendorError):
    """429 that outlasted the retry budget, or whose Retry-After is longer than we will block for.

    ``retry_after`` (seconds, or None when the vendor gave no hint) tells the caller when to reschedule.
    """

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status_code=429)
        self.retry_after = retry_after


class VendorUnavailable(VendorError):
    """5xx or transport failures that outlasted the retry budget; the caller dead-letters or reschedules."""


class Unauthorized(VendorError):
    """The access token was rejected (expired or revoked): refresh it and try again."""


class InvalidGrant(VendorError):
    """The refresh token (or code) was rejected: the link is dead and the athlete must relink."""


class MissingScope(VendorError):
    """The vendor refused a call for a scope the link was not granted (a link made before perfhub
    asked for it): only linking again grants it. What else the link reads still works."""

    def __init__(self, message: str, *, scope: str, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.scope = scope


class RecordNotFound(VendorError):
    """The vendor has no such record (deleted since the notification, or never existed)."""


class SignatureError(Exception):
    """A webhook delivery failed verification; answer 401 and do nothing else with it."""
