"""Helpers for verifying webhook deliveries: header lookup and a two-sided freshness window."""

from __future__ import annotations

import math
from collections.abc import Mapping

from perfhub.wearables.vendors.errors import SignatureError


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that works for plain dicts as well as Starlette's Headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def check_freshness(timestamp_s: float, now: float, tolerance_s: int) -> None:
    if not math.isfinite(timestamp_s):
        raise SignatureError("webhook timestamp is not a number")
    if now - timestamp_s > tolerance_s:
        raise SignatureError("webhook timestamp is too old")
    if timestamp_s - now > tolerance_s:
        raise SignatureError("webhook timestamp is in the future")
