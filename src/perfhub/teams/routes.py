"""Teams, their coaches and members, invitations, and what each athlete shares with each team.

No athlete readings are served here: memberships and sharing settings only. A team the caller
has no part in answers 404, as one that does not exist, so team ids cannot be probed. Sharing
is read from its table on every request (nothing caches a grant): a change is obeyed by the
very next read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from perfhub.auth.deps import CurrentUser
from perfhub.core.bounds import MAX_ID
from perfhub.core.db import utcnow
from perfhub.core.deps import UowDep
from perfhub.teams import queries, service
from perfhub.teams.schemas import (
    CoachAdd,
    InvitationAnswer,
    InvitationCreate,
    InvitationOut,
    MemberTeamOut,
    ReceivedInvitationOut,
    SharingOut,
    SharingUpdate,
    TeamCreate,
    TeamDetailOut,
    TeamOut,
    TeamSummaryOut,
)

router = APIRouter(tags=["teams"])

TeamId = Annotated[int, Path(alias="teamId", gt=0, le=MAX_ID, description="a team's id from GET /teams")]
AthleteId = Annotated[int, Path(alias="athleteId", gt=0, le=MAX_ID, description="a member's id")]
InvitationId = Annotated[int, Path(alias="invitationId", gt=0, le=MAX_ID, description="an invitation's id")]


@router.get("/teams", response_model=list[TeamSummaryOut])
def list_teams(uow: UowDep, user: CurrentUser) -> list[TeamSummaryOut]:
    """The teams you coach or belong to (an admin: every team), by name, with your role in each."""
    with uow() as session:
        return queries.team_summaries(session, user)


@router.post("/teams", status_code=201, response_model=TeamOut)
def create_team(body: TeamCreate, uow: UowDep, user: CurrentUser) -> TeamOut:
    """Create a team. A coach runs the team they create; an admin may name its coach
    (`coachEmail`, someone with the coach role), else runs it themself. Athletes: 403."""
    with uow() as session:
        return service.create_team_for(session, user, body.name, body.coach_email)


@router.get("/teams/{teamId}", response_model=TeamDetailOut | MemberTeamOut)
def get_team(team_id: TeamId, uow: UowDep, user: CurrentUser) -> TeamDetailOut | MemberTeamOut:
    """Coaches and admins: the team with every member and what each shares. An athlete of the
    team: its coaches and what you share with it. Anyone else: 404."""
    with uow() as session:
        return service.team_view(session, user, team_id)


@router.post("/teams/{teamId}/coaches", status_code=201, response_model=TeamOut)
def add_coach(team_id: TeamId, body: CoachAdd, response: Response, uow: UowDep, user: CurrentUser) -> TeamOut:
    """Add a coach (someone with the coach role) to a team you coach (an admin: any team).
    Adding one who is a coach of it already changes nothing and answers 200."""
    with uow() as session:
        team, added = service.add_coach(session, user, team_id, body.email)
    if not added:
        response.status_code = 200
    return team


@router.delete("/teams/{teamId}/members/{athleteId}", status_code=204, response_class=Response)
def remove_member(team_id: TeamId, athlete_id: AthleteId, uow: UowDep, user: CurrentUser) -> Response:
    """A coach of the team (or an admin) removes an athlete; an athlete removes themself (leaves).
    Whatever they shared with the team stops being readable at once."""
    with uow() as session:
        service.remove_member(session, user, team_id, athlete_id)
    return Response(status_code=204)


@router.post("/teams/{teamId}/invitations", status_code=201, response_model=InvitationOut)
def invite(
    team_id: TeamId, body: InvitationCreate, response: Response, uow: UowDep, user: CurrentUser
) -> InvitationOut:
    """Invite an athlete by email to a team you coach, for 14 days. While an invitation to that
    email is pending, inviting again answers it (200). Someone already in the team: 409."""
    with uow() as session:
        invitation, created = service.invite(session, user, team_id, body.email)
    if not created:
        response.status_code = 200
    return invitation


@router.get("/teams/{teamId}/invitations", response_model=list[InvitationOut])
def team_invitations(team_id: TeamId, uow: UowDep, user: CurrentUser) -> list[InvitationOut]:
    """Every invitation of a team you coach, answered or not, newest first."""
    with uow() as session:
        service.coached_team(session, user, team_id)
        return queries.team_invitations(session, team_id, utcnow())


@router.delete("/teams/{teamId}/invitations/{invitationId}", status_code=204, response_class=Response)
def revoke_invitation(
    team_id: TeamId, invitation_id: InvitationId, uow: UowDep, user: CurrentUser
) -> Response:
    """Withdraw a pending invitation (again: no change). One already answered: 409."""
    with uow() as session:
        service.revoke_invitation(session, user, team_id, invitation_id)
    return Response(status_code=204)


@router.get("/invitations", response_model=list[ReceivedInvitationOut])
def my_invitations(uow: UowDep, user: CurrentUser) -> list[ReceivedInvitationOut]:
    """The invitations to your email that you can still answer, with who runs each team."""
    with uow() as session:
        return queries.received_invitations(session, user.email, utcnow())


@router.post("/invitations/{invitationId}/accept", response_model=SharingOut)
def accept_invitation(
    invitation_id: InvitationId, uow: UowDep, user: CurrentUser, body: InvitationAnswer | None = None
) -> SharingOut:
    """Join the team, sharing exactly the signals set true (none given, or no body: nothing).
    Accepting again changes nothing and answers what you share now. Someone else's invitation:
    404; one expired, withdrawn or declined: 409 with `reason`."""
    share = body.signals() if body is not None else set()
    with uow() as session:
        return service.accept_invitation(session, user, invitation_id, share)


@router.post("/invitations/{invitationId}/decline", response_model=InvitationOut)
def decline_invitation(invitation_id: InvitationId, uow: UowDep, user: CurrentUser) -> InvitationOut:
    """Say no to an invitation (again: no change). One accepted, expired or withdrawn: 409."""
    with uow() as session:
        return service.decline_invitation(session, user, invitation_id)


@router.get("/sharing", response_model=list[SharingOut])
def get_sharing(uow: UowDep, user: CurrentUser) -> list[SharingOut]:
    """What you share with each of your teams, by team name."""
    with uow() as session:
        return queries.sharing_of(session, user.id)


@router.put("/sharing/{teamId}", response_model=SharingOut)
def put_sharing(team_id: TeamId, body: SharingUpdate, uow: UowDep, user: CurrentUser) -> SharingOut:
    """Turn any of `hrv`, `sleep`, `readiness`, `training` on or off for one of your teams;
    the rest stay as they are. The team's very next read obeys it. Not in that team: 404."""
    with uow() as session:
        return service.update_sharing(session, user, team_id, body.changes())
