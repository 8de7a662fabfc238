"""The teams page: the teams a coach runs (an admin: every team), who is in each, and how many
share each signal. Names and counts only: no athlete's data is read here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden
from perfhub.teams.queries import rosters_for
from perfhub.teams.schemas import SIGNALS
from perfhub.web.deps import Viewer
from perfhub.web.templating import render

router = APIRouter()

SIGNAL_WORDS = {"hrv": "HRV", "sleep": "Sleep", "readiness": "Readiness", "training": "Training"}


@router.get("/teams")
def teams_page(request: Request, uow: UowDep, viewer: Viewer) -> Response:
    if viewer.role not in ("coach", "admin"):
        raise Forbidden(f"Teams are for coaches and admins; yours is an {viewer.role} account.")
    with uow() as session:
        rosters = rosters_for(session, viewer)
    signal_words = {signal: SIGNAL_WORDS.get(signal, signal.capitalize()) for signal in SIGNALS}
    return render(
        request,
        "teams.html",
        {
            "rosters": rosters,
            "signals": [(signal, signal_words[signal]) for signal in SIGNALS],
            "signal_words": signal_words,
            "all_teams": viewer.role == "admin",
        },
        user=viewer,
        title="Teams",
    )
