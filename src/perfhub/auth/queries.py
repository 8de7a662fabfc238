"""Counts of people, for the administrator's overview."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from perfhub.auth.models import ROLES, User


def users_by_role(session: Session) -> dict[str, int]:
    """How many people have each role; every role is in the answer, with 0 when nobody has it."""
    counts = dict.fromkeys(ROLES, 0)
    for role, count in session.execute(select(User.role, func.count()).group_by(User.role)):
        counts[role] = int(count)
    return counts
