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

Routes about one record of an athlete's (a planned session) take :func:`RecordRead`: the
record's owner is the subject, and a record the reader may not know of is 404 as one that does
not exist.

Team routes name their subject in the path: ``AthleteRead(..., in_team=True)`` reads the member
``athleteId`` of team ``teamId`` (as its coach, or the member themself), and :func:`TeamRead`
reads every member of team ``teamId`` at once, asking the policy for the whole team in one
statement.

The dependency callable carries its :class:`ReadDeclaration`, so a test can walk every route of
the app and find the ones that read athlete data without declaring it (:func:`declared_read`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session

from perfhub.auth.deps import require_user
from perfhub.auth.models import User
from perfhub.core.bounds import MAX_ID
from perfhub.core.dates import DateRange, date_range, local_today
from perfhub.core.deps import FromQuery, ToQuery, UserQuery
from perfhub.core.errors import Forbidden, NotFound
from perfhub.privacy.disclosure import ordered
from perfhub.privacy.policy import (
    Access,
    TeamAccess,
    authorize_read,
    authorize_team_member_read,
    authorize_team_read,
)
from perfhub.teams.schemas import SIGNALS

_MARK = "__athlete_read__"


# The path parameters of team routes: /teams/{teamId}/athletes/{athleteId}/...
TeamPath = Path(alias="teamId", gt=0, le=MAX_ID, description="a team's id from GET /teams")
AthletePath = Path(alias="athleteId", gt=0, le=MAX_ID, description="a member of the team")


@dataclass(frozen=True)
class ReadDeclaration:
    """What a route reads: ``signals`` of the ``userId`` athlete, or (``own``) the caller's own
    data, or (``in_team``) of the member ``athleteId`` of team ``teamId``, or (``team``) of every
    member of team ``teamId``."""

    signals: tuple[str, ...]
    own: bool = False
    dated: bool = False
    in_team: bool = False
    team: bool = False
    record: str | None = None  # the kind of record whose owner is the subject


@dataclass(frozen=True)
class ReadRequest:
    """A declared read, resolved to its viewer and subject, not yet decided."""

    declaration: ReadDeclaration
    viewer: User
    subject_id: int
    path: str
    raw_from: str | None = None
    raw_to: str | None = None
    team_id: int | None = None  # the read goes through this team (``in_team`` routes)

    def authorize(self, session: Session, *, partial: bool = False) -> Access:
        """Decide the read (404 unknown or unrelated, 403 unshared) and add its audit row to ``session``.

        ``partial``: a related athlete who does not share some of the signals is read anyway,
        and the caller shows those signals as hidden.
        """
        signals = self.declaration.signals
        if self.team_id is None:
            return authorize_read(session, self.viewer, self.subject_id, signals, self.path, partial=partial)
        access = authorize_team_member_read(
            session, self.viewer, self.team_id, self.subject_id, signals, self.path
        )
        if not partial and len(access.signals) < len(signals):
            missing = ", ".join(signal for signal in signals if signal not in access.signals)
            raise Forbidden(f"athlete {self.subject_id} does not share {missing} with you")
        return access

    def authorize_range(self, session: Session, *, partial: bool = False) -> tuple[Access, DateRange]:
        """:meth:`authorize`, then the ``from``/``to`` days checked in the subject's own calendar."""
        access = self.authorize(session, partial=partial)
        return access, date_range(self.raw_from, self.raw_to, local_today(access.subject.tz))


@dataclass(frozen=True)
class TeamReadRequest:
    """A declared read of a whole team, resolved to its viewer and team, not yet decided."""

    declaration: ReadDeclaration
    viewer: User
    team_id: int
    path: str

    def authorize(self, session: Session) -> TeamAccess:
        """Decide the read (404 no such team for this viewer, 403 a member) and every member's
        grants, in one policy statement. The route audits what it disclosed once it has read."""
        return authorize_team_read(session, self.viewer, self.team_id, self.path)


# The dependency that says who reads: sync (the web session) or async (the bearer token's person).
Reader = Callable[..., User | Awaitable[User]]
# Who a record belongs to: the owner's id, or None when there is no such record.
Owner = Callable[[Session, int], "int | None"]


@dataclass(frozen=True)
class RecordReadRequest:
    """A declared read of one record, resolved to its viewer and record id, not yet decided."""

    declaration: ReadDeclaration
    viewer: User
    record_id: int
    owner: Owner
    path: str

    def authorize(self, session: Session) -> Access:
        """Decide the read of the record's owner (and audit it). A record that does not exist,
        or whose owner the viewer may not know, is 404 in the record's own words (the owner's id
        is not given away); a related owner who does not share the signals is 403."""
        kind = self.declaration.record or "record"
        missing = NotFound(f"no {kind} with id {self.record_id}")
        owner = self.owner(session, self.record_id)
        if owner is None:
            raise missing
        try:
            return authorize_read(session, self.viewer, owner, self.declaration.signals, self.path)
        except NotFound:
            raise missing from None


def _checked_signals(signals: Collection[str]) -> tuple[str, ...]:
    unknown = set(signals) - set(SIGNALS)
    if unknown or not signals:
        raise ValueError(f"a read names signals from {SIGNALS}, not {sorted(unknown) or 'none'}")
    return tuple(ordered(set(signals)))


def AthleteRead(
    signals: Collection[str] = SIGNALS,
    *,
    own: bool = False,
    dated: bool = False,
    in_team: bool = False,
    reader: Reader = require_user,
) -> Any:
    """The dependency of a route that reads athlete data (pass it as ``Annotated`` metadata).

    ``signals`` are what the read needs (all of them must be shared, else 403, unless the route
    authorizes a ``partial`` read); ``own`` routes read only the caller's own data and take no
    ``userId``; ``dated`` reads take ``from``/``to``; ``in_team`` routes read the member
    ``athleteId`` of team ``teamId`` (path parameters) instead of ``userId``.
    ``reader`` is the dependency that says who is reading: the bearer token's person for the
    API, the session cookie's for the web pages. Either way the same policy decides.
    """
    if own and (dated or in_team):
        raise ValueError("own-data reads take no date range and no team here")
    declaration = ReadDeclaration(_checked_signals(signals), own=own, dated=dated, in_team=in_team)
    if in_team:
        call = _team_member_read(declaration, reader)
    else:
        make = _own_read if own else _dated_read if dated else _athlete_read
        call = make(declaration, reader)
    setattr(call, _MARK, declaration)
    return Depends(call)


def TeamRead(signals: Collection[str] = SIGNALS, *, reader: Reader = require_user) -> Any:
    """The dependency of a route that reads ``signals`` of every member of team ``teamId``.

    It resolves to a :class:`TeamReadRequest`; which members and which of their signals the
    viewer may read is decided, for the whole team at once, by its ``authorize``.
    """
    declaration = ReadDeclaration(_checked_signals(signals), team=True)

    async def team_read(
        request: Request, user: User = Depends(reader), team_id: int = TeamPath
    ) -> TeamReadRequest:
        return TeamReadRequest(declaration, user, team_id, request.url.path)

    setattr(team_read, _MARK, declaration)
    return Depends(team_read)


def RecordRead(
    signals: Collection[str], *, kind: str, owner: Owner, param: str, reader: Reader = require_user
) -> Any:
    """The dependency of a route about one record of an athlete's, named by the path parameter
    ``param``; ``owner`` finds whose it is. It resolves to a :class:`RecordReadRequest`."""
    declaration = ReadDeclaration(_checked_signals(signals), record=kind)
    record_path = Path(alias=param, gt=0, le=MAX_ID, description=f"a {kind}'s id")

    async def record_read(
        request: Request, user: User = Depends(reader), record_id: int = record_path
    ) -> RecordReadRequest:
        return RecordReadRequest(declaration, user, record_id, owner, request.url.path)

    setattr(record_read, _MARK, declaration)
    return Depends(record_read)


# The reader is a default (``= Depends(reader)``), not ``Annotated`` metadata: annotations are
# strings here (postponed evaluation), and FastAPI resolves them in the module's namespace, where
# the closure's ``reader`` does not exist.
def _own_read(declaration: ReadDeclaration, reader: Reader) -> Callable[..., Awaitable[ReadRequest]]:
    async def own_read(request: Request, user: User = Depends(reader)) -> ReadRequest:
        return ReadRequest(declaration, user, user.id, request.url.path)

    return own_read


def _athlete_read(declaration: ReadDeclaration, reader: Reader) -> Callable[..., Awaitable[ReadRequest]]:
    async def athlete_read(
        request: Request, user: User = Depends(reader), user_id: int | None = UserQuery
    ) -> ReadRequest:
        return ReadRequest(declaration, user, user_id or user.id, request.url.path)

    return athlete_read


def _dated_read(declaration: ReadDeclaration, reader: Reader) -> Callable[..., Awaitable[ReadRequest]]:
    # from/to before userId: the order the query parameters have always had in the API document.
    async def dated_read(
        request: Request,
        user: User = Depends(reader),
        from_: str | None = FromQuery,
        to: str | None = ToQuery,
        user_id: int | None = UserQuery,
    ) -> ReadRequest:
        return ReadRequest(declaration, user, user_id or user.id, request.url.path, from_, to)

    return dated_read


def _team_member_read(declaration: ReadDeclaration, reader: Reader) -> Callable[..., Awaitable[ReadRequest]]:
    # No userId here: the subject is the path's athleteId, read through the path's team.
    if declaration.dated:

        async def dated_member_read(
            request: Request,
            user: User = Depends(reader),
            team_id: int = TeamPath,
            athlete_id: int = AthletePath,
            from_: str | None = FromQuery,
            to: str | None = ToQuery,
        ) -> ReadRequest:
            path = request.url.path
            return ReadRequest(declaration, user, athlete_id, path, from_, to, team_id=team_id)

        return dated_member_read

    async def member_read(
        request: Request, user: User = Depends(reader), team_id: int = TeamPath, athlete_id: int = AthletePath
    ) -> ReadRequest:
        return ReadRequest(declaration, user, athlete_id, request.url.path, team_id=team_id)

    return member_read


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
