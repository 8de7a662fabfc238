"""FastAPI dependencies shared by every router: the request's unit of work and common queries.

The caller is authenticated in a short transaction of its own (``perfhub.auth.deps``), and
each endpoint opens and commits its unit of work inside its own body (``with uow() as
session:``). A transaction is
therefore never held across FastAPI's hops between worker threads, where a request holding
SQLite's single write lock could wait behind requests waiting for that lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from perfhub.core.bounds import MAX_ID
from perfhub.core.db import session_scope

# Query parameters shared by every per-athlete read endpoint.
FromQuery = Query(None, alias="from", description="first day, YYYY-MM-DD (default: 29 days before `to`)")
ToQuery = Query(None, alias="to", description="last day, YYYY-MM-DD, inclusive (default: today)")
UserQuery = Query(
    None, alias="userId", gt=0, le=MAX_ID, description="another athlete's id (coaches and admins)"
)


class UnitOfWork:
    """The request boundary: ``with uow() as session:`` commits on success, rolls back on error."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __call__(self) -> AbstractContextManager[Session]:
        return session_scope(self._sessions)


# Dependencies that do no I/O are async: FastAPI runs a sync one on a worker thread, a hop per
# dependency per request for nothing.
async def get_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.sessions)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
