"""A team's page for its coaches: the readiness table (filters and sort order in the URL), its
CSV, and the team's people (coaches, invitations).

The table is the API's (``GET /api/v1/teams/{teamId}/readiness``): the same dependency
(:func:`perfhub.privacy.deps.TeamRead`, with the session cookie as the reader), one policy
statement for the whole team, the same rows, and the audit of what it disclosed written in one
statement in the page's transaction. The CSV link runs the API's CSV route itself with the
cookie's reader, so the file is exactly what the page shows. Invitations and coaches go through
the teams service; those forms read no athlete data.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from perfhub.auth.models import User
from perfhub.core.bounds import MAX_ID
from perfhub.core.deps import UowDep
from perfhub.core.errors import Conflict, NotFound, Unprocessable
from perfhub.privacy.deps import TeamRead, TeamReadRequest
from perfhub.privacy.policy import audit_team_read
from perfhub.readiness.team_routes import team_readiness_csv
from perfhub.readiness.team_table import TABLE_SIGNALS, parse_day, parse_filters, parse_sort, read_team_table
from perfhub.teams import queries, service
from perfhub.web.deps import CsrfChecked, Viewer, session_user
from perfhub.web.routes._team_view import (
    COLUMNS,
    TableQuery,
    day_words,
    filter_options,
    filters_in_words,
    headers,
    row_view,
)
from perfhub.web.routes._words import date_in_zone
from perfhub.web.security import finish_page
from perfhub.web.templating import render

router = APIRouter()

# The whole team's table signals, as GET /api/v1/teams/{teamId}/readiness reads them.
TeamTablePageRead = Annotated[TeamReadRequest, TeamRead(signals=TABLE_SIGNALS, reader=session_user)]

TeamId = Annotated[int, Path(alias="teamId", gt=0, le=MAX_ID)]
InvitationId = Annotated[int, Path(alias="invitationId", gt=0, le=MAX_ID)]
DateQuery = Annotated[str | None, Query(alias="date", max_length=10)]
BandQuery = Annotated[list[str], Query(max_length=20)]
FlagQuery = Annotated[list[str], Query(max_length=40)]
NameQuery = Annotated[str | None, Query(max_length=200)]
SortQuery = Annotated[str | None, Query(max_length=500)]
EmailField = Annotated[str, Form(max_length=320)]

NOTICES = {
    "coach": "The coach is added: they see this team's table as you do.",
    "withdrawn": "The invitation is withdrawn.",
}


@router.get("/teams/{teamId}")
def team_page(
    request: Request,
    uow: UowDep,
    read: TeamTablePageRead,
    date_: DateQuery = None,
    band: BandQuery = [],  # noqa: B006 (FastAPI copies query defaults)
    flag: FlagQuery = [],  # noqa: B006
    q: NameQuery = None,
    sort: SortQuery = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
    invited: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
) -> Response:
    """One row per athlete: readiness, sleep debt, last night's sleep and HRV against the normal
    range, flags; what an athlete does not share is written "hidden"."""
    day, filters, keys = parse_day(date_), parse_filters(band, flag, q), parse_sort(sort)
    query = TableQuery(
        read.team_id,
        day,
        tuple(dict.fromkeys(band)),
        tuple(dict.fromkeys(flag)),
        filters.q,
        (sort or "").strip(),
    )
    now = request.app.state.runtime.clock()
    with uow() as session:
        access = read.authorize(session)
        table = read_team_table(session, access, day, filters, keys)
        audit_team_read(session, read.viewer, table.disclosed, read.path)
        team_name = _team_name(session, read.viewer, read.team_id)
        coaches = queries.coaches_of(session, [read.team_id])[read.team_id]
        pending = [i for i in queries.team_invitations(session, read.team_id, now) if i.status == "pending"]
    notice = NOTICES.get(done or "", "")
    if done == "invited":
        invitation = next((i for i in pending if i.id == invited), None)
        if invitation is not None:
            notice = (
                f"{invitation.email} is invited. When they sign in to perfhub with that email, the "
                "invitation waits on their Sharing page for 14 days."
            )
    return render(
        request,
        "team.html",
        {
            "team_id": read.team_id,
            "team_name": team_name,
            "query": query,
            "columns": COLUMNS,
            "headers": headers(query, keys),
            "rows": [row_view(row) for row in table.rows],
            "member_count": len(access.grants),
            "day_words": day_words(query, table.rows),
            "filter_words": filters_in_words(query),
            "options": filter_options(query),
            "coaches": [coach.name for coach in coaches],
            "invitations": [
                {
                    "id": invitation.id,
                    "email": invitation.email,
                    "expires": date_in_zone(invitation.expires_at, read.viewer.tz),
                    "expires_iso": invitation.expires_at.isoformat(),
                    "invited_by": None if invitation.invited_by is None else invitation.invited_by.name,
                }
                for invitation in pending
            ],
            "notice": notice,
            "tz": read.viewer.tz,
        },
        user=read.viewer,
        title=f"{team_name} · team",
    )


def _team_name(session: Session, viewer: User, team_id: int) -> str:
    found = queries.relation_to(session, viewer, team_id)
    if found is None:
        raise NotFound(f"no team with id {team_id}")
    return found[0].name


@router.get("/teams/{teamId}/readiness.csv")
def team_csv(
    uow: UowDep,
    read: TeamTablePageRead,
    date_: DateQuery = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
    band: BandQuery = [],  # noqa: B006
    flag: FlagQuery = [],  # noqa: B006
    q: NameQuery = None,
    sort: SortQuery = None,
) -> StreamingResponse:
    """The table as CSV: ``GET /api/v1/teams/{teamId}/readiness.csv`` itself, read with the cookie."""
    return team_readiness_csv(uow, read, date_, from_, to, band, flag, q, sort)


def _form_again(
    request: Request,
    uow: UowDep,
    viewer: User,
    team_id: int,
    *,
    form: str,
    typed: str,
    error: Unprocessable | Conflict,
) -> Response:
    """The invitation or coach form again, with what was typed and what is wrong with it."""
    with uow() as session:
        team_name = _team_name(session, viewer, team_id)
    return render(
        request,
        "team_form.html",
        {"team_id": team_id, "team_name": team_name, "form": form, "typed": typed, "error": error.detail},
        user=viewer,
        status_code=error.status,
        title=f"{team_name} · team",
    )


def _back(request: Request, target: str) -> Response:
    return finish_page(request, RedirectResponse(target, status_code=303))


@router.post("/teams/{teamId}/invitations", dependencies=[CsrfChecked])
def invite(
    request: Request, uow: UowDep, viewer: Viewer, team_id: TeamId, email: EmailField = ""
) -> Response:
    """Invite an athlete by email for 14 days (inviting again while one is pending changes nothing)."""
    try:
        with uow() as session:
            invitation, _ = service.invite(session, viewer, team_id, email)
    except (Unprocessable, Conflict) as exc:
        return _form_again(request, uow, viewer, team_id, form="invite", typed=email, error=exc)
    return _back(request, f"/teams/{team_id}?done=invited&invited={invitation.id}#people")


@router.post("/teams/{teamId}/coaches", dependencies=[CsrfChecked])
def add_coach(
    request: Request, uow: UowDep, viewer: Viewer, team_id: TeamId, email: EmailField = ""
) -> Response:
    """Add another coach (someone with a coach account) to the team."""
    try:
        with uow() as session:
            service.add_coach(session, viewer, team_id, email)
    except (Unprocessable, Conflict) as exc:
        return _form_again(request, uow, viewer, team_id, form="coach", typed=email, error=exc)
    return _back(request, f"/teams/{team_id}?done=coach#people")


@router.post("/teams/{teamId}/invitations/{invitationId}/withdraw", dependencies=[CsrfChecked])
def withdraw(
    request: Request, uow: UowDep, viewer: Viewer, team_id: TeamId, invitation_id: InvitationId
) -> Response:
    with uow() as session:
        service.revoke_invitation(session, viewer, team_id, invitation_id)
    return _back(request, f"/teams/{team_id}?done=withdrawn#people")
