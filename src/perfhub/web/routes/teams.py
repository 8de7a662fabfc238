"""The teams page: the teams a coach runs (an admin: every team), each with a link to its
readiness table, who is in it and how many share each signal; and a form to start a team.
Names and counts only: no athlete's data is read here (the table is ``/teams/{teamId}``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from perfhub.auth.models import User
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden, Unprocessable
from perfhub.teams import service
from perfhub.teams.queries import rosters_for
from perfhub.teams.schemas import SIGNALS
from perfhub.web.deps import CsrfChecked, Viewer
from perfhub.web.routes._words import signal_word
from perfhub.web.security import finish_page
from perfhub.web.templating import render

router = APIRouter()


def _coach_or_admin(viewer: User) -> None:
    if viewer.role not in ("coach", "admin"):
        raise Forbidden(f"Teams are for coaches and admins; yours is an {viewer.role} account.")


def _page(
    request: Request, uow: UowDep, viewer: User, *, typed: str = "", error: str = "", status_code: int = 200
) -> Response:
    with uow() as session:
        rosters = rosters_for(session, viewer)
    signal_words = {signal: signal_word(signal) for signal in SIGNALS}
    return render(
        request,
        "teams.html",
        {
            "rosters": rosters,
            "signals": [(signal, signal_words[signal]) for signal in SIGNALS],
            "signal_words": signal_words,
            "all_teams": viewer.role == "admin",
            "typed": typed,
            "error": error,
        },
        user=viewer,
        status_code=status_code,
        title="Teams",
    )


@router.get("/teams")
def teams_page(request: Request, uow: UowDep, viewer: Viewer) -> Response:
    _coach_or_admin(viewer)
    return _page(request, uow, viewer)


@router.post("/teams", dependencies=[CsrfChecked])
def create_team(
    request: Request, uow: UowDep, viewer: Viewer, name: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Start a team: its creator is its first coach (an admin too; more coaches can be added)."""
    _coach_or_admin(viewer)
    try:
        with uow() as session:
            team = service.create_team_for(session, viewer, name, None)
    except Unprocessable:
        return _page(request, uow, viewer, typed=name, error="Give the team a name.", status_code=422)
    return finish_page(request, RedirectResponse(f"/teams/{team.id}#people", status_code=303))
