"""The one way a route reads an athlete's data: it declares the read as a dependency.

A route that serves athlete data takes a parameter annotated with :func:`AthleteRead`::

    ReadinessRead = Annotated[ReadRequest, AthleteRead(signals={"readiness"})]

    @router.get("/readiness/today")
    def readiness_today(uow: UowDep, read: ReadinessRead) -> ReadinessOut:
        with uow() as session:
            access = read.authorize(session)
            ...

The dependency resolves who is reading (the bearer token's person) and whom (the ``userId``
query parameter, or the reader themself for ``own=True`` routes that have none). Deciding the
read and writing its audit row wait for :meth:`ReadRequest.authorize`, inside the route's own
unit of work: the audit row commits with the response, or the response is not sent. A
transaction is never opened in a dependency (see ``perfhub.core.deps`` for why).

The dependency callable carries its :class:`ReadDeclaration`, so a test can walk every route of
the app and find the ones that read athlete data without declaring it (:func:`declared_read`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session

from perfhub.auth.deps import require_user
from perfhub.auth.models import User
from perfhub.core.dates import DateRange, date_range, local_today
from perfhub.core.deps import FromQuery, ToQuery, UserQuery
from perfhub.privacy.disclosure import ordered
from perfhub.privacy.policy import Access, authorize_read
from perfhub.teams.schemas import SIGNALS

_MARK = "__athlete_read__"


@dataclass(frozen=True)
class ReadDeclaration:
    """What a route reads: ``signals`` of the ``userId`` athlete, or (``own``) the caller's own data."""

    signals: tuple[str, ...]
    own: bool = False
    dated: bool = False


@dataclass(frozen=True)
class ReadRequest:
    """A declared read, resolved to its viewer and subject, not yet decided."""

    declaration: ReadDeclaration
    viewer: User
    subject_id: int
    path: str
    raw_from: str | None = None
    raw_to: str | None = None

    def authorize(self, session: Session) -> Access:
        """Decide the read (404 unknown or unrelated, 403 unshared) and add its audit row to ``session``."""
        return authorize_read(session, self.viewer, self.subject_id, self.declaration.signals, self.path)

    def authorize_range(self, session: Session) -> tuple[Access, DateRange]:
        """:meth:`authorize`, then the ``from``/``to`` days checked in the subject's own calendar."""
        access = self.authorize(session)
        return access, date_range(self.raw_from, self.raw_to, local_today(access.subject.tz))


Reader = Callable[..., User]


def AthleteRead(
    signals: Collection[str] = SIGNALS,
    *,
    own: bool = False,
    dated: bool = False,
    reader: Reader = require_user,
) -> Any:
    """The dependency of a route that reads athlete data (pass it as ``Annotated`` metadata).

    ``signals`` are what the read needs (all of them must be shared, else 403); ``own`` routes
    read only the caller's own data and take no ``userId``; ``dated`` reads take ``from``/``to``.
    ``reader`` is the dependency that says who is reading: the bearer token's person for the
    API, the session cookie's for the web pages. Either way the same policy decides.
    """
    unknown = set(signals) - set(SIGNALS)
    if unknown or not signals:
        raise ValueError(f"a read names signals from {SIGNALS}, not {sorted(unknown) or 'none'}")
    if own and dated:
        raise ValueError("own-data reads take no date range here")
    declaration = ReadDeclaration(tuple(ordered(set(signals))), own=own, dated=dated)
    make = _own_read if own else _dated_read if dated else _athlete_read
    call = make(declaration, reader)
    setattr(call, _MARK, declaration)
    return Depends(call)


# The reader is a default (``= Depends(reader)``), not ``Annotated`` metadata: annotations are
# strings here (postponed evaluation), and FastAPI resolves them in the module's namespace, where
# the closure's ``reader`` does not exist.
def _own_read(declaration: ReadDeclaration, reader: Reader) -> Callable[..., ReadRequest]:
    def own_read(request: Request, user: User = Depends(reader)) -> ReadRequest:
        return ReadRequest(declaration, user, user.id, request.url.path)

    return own_read


def _athlete_read(declaration: ReadDeclaration, reader: Reader) -> Callable[..., ReadRequest]:
    def athlete_read(
        request: Request, user: User = Depends(reader), user_id: int | None = UserQuery
    ) -> ReadRequest:
        return ReadRequest(declaration, user, user_id or user.id, request.url.path)

    return athlete_read


def _dated_read(declaration: ReadDeclaration, reader: Reader) -> Callable[..., ReadRequest]:
    # from/to before userId: the order the query parameters have always had in the API document.
    def dated_read(
        request: Request,
        user: User = Depends(reader),
        from_: str | None = FromQuery,
        to: str | None = ToQuery,
        user_id: int | None = UserQuery,
    ) -> ReadRequest:
        return ReadRequest(declaration, user, user_id or user.id, request.url.path, from_, to)

    return dated_read


def declared_read(dependant: Dependant) -> ReadDeclaration | None:
    """The read a route's dependency tree declares, if any."""
    for call in _calls(dependant):
        declaration = getattr(call, _MARK, None)
        if isinstance(declaration, ReadDeclaration):
            return declaration
    return None


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


# The caller's own data: every route serving it declares so too, with this one alias.
OwnRead = Annotated[ReadRequest, AthleteRead(own=True)]
