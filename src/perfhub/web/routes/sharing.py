"""The athlete's sharing page: what each team's coaches see (a switch per signal), invitations to
join a team (accepted choosing what to share, nothing ticked beforehand, or declined), and
leaving a team.

Every change goes through the teams service, as ``PUT /api/v1/sharing/{teamId}``, the
invitation answers and ``DELETE /api/v1/teams/{teamId}/members/{athleteId}`` do; nothing caches
a grant, so the coach's very next read obeys it. The forms work without JavaScript
(Post/Redirect/Get); htmx, where it runs, saves a team's switches as soon as one changes.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from perfhub.core.bounds import MAX_ID
from perfhub.core.deps import UowDep
from perfhub.teams import queries, service
from perfhub.teams.schemas import SIGNALS
from perfhub.web.deps import AthleteViewer, CsrfChecked
from perfhub.web.routes._words import SIGNAL_COVERS, date_in_zone, signal_word, signals_in_words
from perfhub.web.security import finish_page
from perfhub.web.templating import render

router = APIRouter()

TeamId = Annotated[int, Path(alias="teamId", gt=0, le=MAX_ID)]
InvitationId = Annotated[int, Path(alias="invitationId", gt=0, le=MAX_ID)]
# A ticked box sends "on"; an unticked one sends nothing.
Ticked = Annotated[Literal["on"] | None, Form()]


@dataclass(frozen=True)
class SignalSwitch:
    signal: str
    label: str
    covers: str
    on: bool


@dataclass(frozen=True)
class TeamSharing:
    id: int
    name: str
    coaches: str
    switches: list[SignalSwitch]
    status: str  # the confirmation shown after saving, else ""


@dataclass(frozen=True)
class InvitationView:
    id: int
    team_name: str
    coaches: str
    invited_by: str | None
    expires: str
    switches: list[SignalSwitch]


def switches(shared: dict[str, bool]) -> list[SignalSwitch]:
    return [
        SignalSwitch(signal, signal_word(signal), SIGNAL_COVERS[signal], shared.get(signal, False))
        for signal in SIGNALS
    ]


def names(people: list[str]) -> str:
    if not people:
        return "no coach yet"
    return people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]


def saved_words(team_name: str, shared: dict[str, bool]) -> str:
    chosen = [signal for signal, on in shared.items() if on]
    if not chosen:
        return f"Saved. {team_name}'s coaches see nothing of yours."
    return f"Saved. {team_name}'s coaches see {signals_in_words(chosen)}."


NOTICES = {
    "joined": "You joined the team. Its coaches see what you ticked, and nothing else.",
    "declined": "You declined the invitation. The team's coaches see nothing of yours.",
    "left": "You left the team. Its coaches no longer see anything of yours.",
}


@router.get("/sharing")
def sharing_page(
    request: Request,
    uow: UowDep,
    viewer: AthleteViewer,
    saved: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    done: Literal["joined", "declined", "left"] | None = None,
) -> Response:
    """Your teams with what each one's coaches see, and the invitations you can still answer."""
    now = request.app.state.runtime.clock()
    with uow() as session:
        memberships = queries.sharing_of(session, viewer.id)
        invitations = queries.received_invitations(session, viewer.email, now)
        coaches = queries.coaches_of(session, [m.team_id for m in memberships])
    teams = []
    for membership in memberships:
        shared = membership.signals.model_dump()
        teams.append(
            TeamSharing(
                id=membership.team_id,
                name=membership.team_name,
                coaches=names([c.name for c in coaches[membership.team_id]]),
                switches=switches(shared),
                status=saved_words(membership.team_name, shared) if saved == membership.team_id else "",
            )
        )
    return render(
        request,
        "sharing.html",
        {
            "teams": teams,
            "invitations": [
                InvitationView(
                    id=invitation.id,
                    team_name=invitation.team_name,
                    coaches=names([c.name for c in invitation.coaches]),
                    invited_by=None if invitation.invited_by is None else invitation.invited_by.name,
                    expires=date_in_zone(invitation.expires_at, viewer.tz),
                    switches=switches({}),
                )
                for invitation in invitations
            ],
            "notice": NOTICES.get(done or "", ""),
            "email": viewer.email,
        },
        user=viewer,
        title="Sharing",
    )


@router.post("/sharing/{teamId}", dependencies=[CsrfChecked])
def save_sharing(
    request: Request,
    uow: UowDep,
    viewer: AthleteViewer,
    team_id: TeamId,
    hrv: Ticked = None,
    sleep: Ticked = None,
    readiness: Ticked = None,
    training: Ticked = None,
) -> Response:
    """The team's four switches as the form sends them: every signal set, as a PUT would."""
    ticked = {"hrv": hrv, "sleep": sleep, "readiness": readiness, "training": training}
    with uow() as session:
        updated = service.update_sharing(
            session, viewer, team_id, {signal: ticked[signal] == "on" for signal in SIGNALS}
        )
    if request.headers.get("hx-request") == "true":
        words = saved_words(updated.team_name, updated.signals.model_dump())
        return finish_page(request, HTMLResponse(html.escape(words)))
    return _back(request, f"/sharing?saved={team_id}#team-{team_id}")


@router.post("/invitations/{invitationId}/accept", dependencies=[CsrfChecked])
def accept(
    request: Request,
    uow: UowDep,
    viewer: AthleteViewer,
    invitation_id: InvitationId,
    hrv: Ticked = None,
    sleep: Ticked = None,
    readiness: Ticked = None,
    training: Ticked = None,
) -> Response:
    """Join the team sharing exactly the ticked signals (none ticked: nothing)."""
    ticked = {"hrv": hrv, "sleep": sleep, "readiness": readiness, "training": training}
    with uow() as session:
        joined = service.accept_invitation(
            session, viewer, invitation_id, [signal for signal in SIGNALS if ticked[signal] == "on"]
        )
    return _back(request, f"/sharing?done=joined#team-{joined.team_id}")


@router.post("/invitations/{invitationId}/decline", dependencies=[CsrfChecked])
def decline(request: Request, uow: UowDep, viewer: AthleteViewer, invitation_id: InvitationId) -> Response:
    with uow() as session:
        service.decline_invitation(session, viewer, invitation_id)
    return _back(request, "/sharing?done=declined")


@router.post("/sharing/{teamId}/leave", dependencies=[CsrfChecked])
def leave(request: Request, uow: UowDep, viewer: AthleteViewer, team_id: TeamId) -> Response:
    """Leave a team: what you shared with it ends with the membership, at once."""
    with uow() as session:
        service.remove_member(session, viewer, team_id, viewer.id)
    return _back(request, "/sharing?done=left")


def _back(request: Request, target: str) -> Response:
    return finish_page(request, RedirectResponse(target, status_code=303))
