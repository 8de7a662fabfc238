"""Reading the dead-letter store (what operators inspect before replaying)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfhub.core.outbox import DeadLetter


def list_dead_letters(
    session: Session, *, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetter]:
    """Newest first; replayed ones only with ``include_replayed``."""
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return list(session.scalars(query))
