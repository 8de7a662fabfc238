"""Counts of vendor connections, for the administrator's overview."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from perfhub.wearables.models import VendorConnection

STATUSES = ("linked", "needs_relink", "revoked")


def connections_by_status(session: Session) -> dict[str, int]:
    """How many connections are in each status (over every vendor), with 0 for an empty status."""
    counts = dict.fromkeys(STATUSES, 0)
    query = select(VendorConnection.status, func.count()).group_by(VendorConnection.status)
    for status, count in session.execute(query):
        counts[status] = int(count)
    return counts
