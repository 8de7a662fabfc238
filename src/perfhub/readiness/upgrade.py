"""A new algorithm version recomputes history (docs/readiness.md#what-changed-in-110).

Reads use only snapshots of the running ``ALGORITHM_VERSION``, so after an upgrade an athlete's
past days would show nothing until something recomputed them. :func:`catch_up` finds the
athletes whose history is stored under an older version only and recomputes it under the new
one, in batches, each its own transaction; the old rows stay. The deployment runs it once at
start (the embedded runtime, or the NATS ``insights`` worker), and ``perfhub recompute`` does
the same for everyone by hand. Running it twice, or in two processes at once, writes the same
rows: a recompute writes only days whose inputs changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from perfhub.auth.service import users_by_ids
from perfhub.core.db import session_scope
from perfhub.readiness.engine import ALGORITHM_VERSION
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readiness.service import recompute

__all__ = ["CATCH_UP_CHUNK", "athletes_behind", "catch_up"]

log = logging.getLogger(__name__)
CATCH_UP_CHUNK = 200


def athletes_behind(session: Session) -> list[int]:
    """Athletes with snapshots of an older version from before their first snapshot of the
    running one (or with none of it), in id order."""
    snapshot = ReadinessSnapshotRow
    current = (
        select(snapshot.user_id, func.min(snapshot.date).label("first"))
        .where(snapshot.algorithm_version == ALGORITHM_VERSION)
        .group_by(snapshot.user_id)
        .subquery()
    )
    older = (
        select(snapshot.user_id, func.min(snapshot.date).label("first"))
        .where(snapshot.algorithm_version != ALGORITHM_VERSION)
        .group_by(snapshot.user_id)
        .subquery()
    )
    behind = (
        select(older.c.user_id)
        .outerjoin(current, current.c.user_id == older.c.user_id)
        .where((current.c.first.is_(None)) | (older.c.first < current.c.first))
        .order_by(older.c.user_id)
    )
    return list(session.scalars(behind))


def catch_up(
    sessions: sessionmaker[Session],
    *,
    chunk: int = CATCH_UP_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Recompute the whole history of every athlete :func:`athletes_behind` names; returns how
    many athletes were brought up to the running version."""
    with session_scope(sessions) as session:
        ids = athletes_behind(session)
    if not ids:
        return 0
    log.info("readiness %s: recomputing the history of %d athletes", ALGORITHM_VERSION, len(ids))
    for start in range(0, len(ids), chunk):
        with session_scope(sessions) as session:
            recompute(session, users_by_ids(session, ids[start : start + chunk]), progress=progress)
    log.info("readiness %s: history recomputed for %d athletes", ALGORITHM_VERSION, len(ids))
    return len(ids)
