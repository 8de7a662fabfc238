"""Every route of the app either declares the athlete data it reads (``perfhub.privacy.deps``) or
is on the list below of routes that read none. A new route is on neither until someone decides
which it is: reading athlete data without the policy cannot happen by forgetting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from perfhub.app import create_app
from perfhub.privacy.deps import AthleteRead, ReadDeclaration, ReadRequest, declared_read
from perfhub.settings import Settings

pytestmark = pytest.mark.backends("sqlite")

# Routes that read no athlete data, each with why. Adding one here is a privacy decision.
NO_ATHLETE_DATA: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/ingest/hrv"): "service-token ingest: answers 'accepted'",
    ("POST", "/api/v1/ingest/sleep"): "service-token ingest: answers 'accepted'",
    ("POST", "/api/v1/ingest/batch"): "service-token ingest: answers a count",
    ("POST", "/api/v1/import/apple-health"): "the caller's own upload: answers what it imported",
    ("GET", "/api/v1/tokens"): "API tokens: names, scopes and dates, no readings",
    ("POST", "/api/v1/tokens"): "issues a token",
    ("DELETE", "/api/v1/tokens/{token_id}"): "revokes a token",
    ("POST", "/api/v1/tokens/{token_id}/rotate"): "rotates a token",
    ("POST", "/api/v1/connections/{vendor}/link"): "starts an OAuth link",
    ("GET", "/api/v1/connections/{vendor}/callback"): "the vendor's OAuth redirect",
    ("POST", "/api/v1/connections/{vendor}/complete"): "finishes an OAuth link",
    ("DELETE", "/api/v1/connections/{vendor}"): "unlinks; answers 204",
    ("GET", "/api/v1/webhooks/{vendor}"): "a vendor's subscription handshake",
    ("POST", "/api/v1/webhooks/{vendor}"): "vendor webhook intake",
    ("GET", "/healthz"): "operations",
    ("GET", "/readyz"): "operations",
    ("GET", "/metrics"): "operations: aggregate gauges only",
    ("GET", "/api/v1/admin/reports/pilot"): "admins: counts and shares over athlete-days, none per athlete",
    ("GET", "/api/v1/audit"): "the access log: who read which signals when; no readings",
    # Teams, invitations and sharing (perfhub.teams): memberships and sharing settings, no
    # readings. What they reveal is limited by the teams service: a team one has no part in is 404.
    ("GET", "/api/v1/teams"): "the caller's teams: names, coaches and a member count",
    ("POST", "/api/v1/teams"): "creates a team; answers its name and coaches",
    ("GET", "/api/v1/teams/{teamId}"): "coaches: members' names and sharing settings; an athlete: their own",
    ("POST", "/api/v1/teams/{teamId}/coaches"): "adds a coach; answers the team's coaches",
    ("DELETE", "/api/v1/teams/{teamId}/members/{athleteId}"): "ends a membership (and its grants); 204",
    ("POST", "/api/v1/teams/{teamId}/invitations"): "invites an email; answers the invitation",
    ("GET", "/api/v1/teams/{teamId}/invitations"): "a coach's invitations: emails, status and dates",
    ("DELETE", "/api/v1/teams/{teamId}/invitations/{invitationId}"): "withdraws an invitation; 204",
    ("GET", "/api/v1/invitations"): "invitations to the caller's own email, with team and coach names",
    ("POST", "/api/v1/invitations/{invitationId}/accept"): "the caller joins; answers their own sharing",
    ("POST", "/api/v1/invitations/{invitationId}/decline"): "the caller declines; answers the invitation",
    ("GET", "/api/v1/sharing"): "the caller's own sharing settings per team",
    ("PUT", "/api/v1/sharing/{teamId}"): "changes the caller's own sharing; answers it",
    # The web pages (perfhub.web): sign-in, and forms that change the caller's own settings.
    ("GET", "/"): "the sign-in form, or a redirect to the caller's home",
    ("GET", "/login"): "the sign-in form",
    ("POST", "/login"): "signs in; answers a redirect",
    ("POST", "/logout"): "signs out",
    ("POST", "/profile/password"): "changes the caller's password",
    ("POST", "/connections/{vendor}/link"): "starts an OAuth link; redirects to the vendor",
    ("POST", "/connections/{vendor}/unlink"): "unlinks; redirects",
    ("POST", "/connections/apple-health"): "the caller's own upload: answers what it imported",
    ("GET", "/teams"): "the teams a coach runs: names and how many share each signal, no readings",
    ("GET", "/admin"): "an admin's overview: counts only",
    # Pages of #13 that read no athlete data: teams, sharing and invitations go through the
    # teams service (what it reveals, as for its API); the access log shows reads of the
    # caller's own data (who, when, which signals, where), never the data.
    ("POST", "/teams"): "starts a team; redirects to it",
    ("POST", "/teams/{teamId}/invitations"): "invites an email; redirects, or the form again with its error",
    ("POST", "/teams/{teamId}/coaches"): "adds a coach; redirects, or the form again with its error",
    ("POST", "/teams/{teamId}/invitations/{invitationId}/withdraw"): "withdraws an invitation; redirects",
    ("GET", "/sharing"): "the caller's own sharing per team, their teams' coaches and invitations to them",
    ("POST", "/sharing/{teamId}"): "changes the caller's own sharing; answers it in words or redirects",
    ("POST", "/sharing/{teamId}/leave"): "the caller leaves a team; redirects",
    ("POST", "/invitations/{invitationId}/accept"): "the caller joins a team; redirects",
    ("POST", "/invitations/{invitationId}/decline"): "the caller declines; redirects",
    ("GET", "/access-log"): "reads of the caller's own data: who, when, which signals, where; no readings",
    ("GET", "/account"): "the caller's email and the export and delete forms",
    ("GET", "/account/deleted"): "says an erased account is gone; signed out",
    # Plans (#14): the athlete is named in the body, so the route asks the policy itself
    # (authorize_read for training) before it writes or answers anything.
    ("POST", "/api/v1/plan/sessions"): "plans a session for the body's athleteId; the policy decides first",
    ("POST", "/api/v1/plan/import"): "imports a plan for the query's athleteId; the policy decides first",
}

# What each athlete-data route declares: the signals it needs, or "own" for the caller's data.
DECLARED: dict[tuple[str, str], tuple[str, ...] | str] = {
    ("GET", "/api/v1/hrv/daily"): ("hrv",),
    ("GET", "/api/v1/sleep/summary"): ("sleep",),
    ("GET", "/api/v1/sleep/debt"): ("sleep",),
    ("GET", "/api/v1/readiness/today"): ("readiness",),
    ("GET", "/api/v1/readiness"): ("readiness",),
    ("GET", "/api/v1/alerts"): ("sleep",),
    ("GET", "/api/v1/alerts/preferences"): "own",
    ("PUT", "/api/v1/alerts/preferences"): "own",
    ("GET", "/api/v1/me"): "own",
    ("PATCH", "/api/v1/me"): "own",
    ("GET", "/api/v1/connections"): "own",
    ("GET", "/api/v1/me/export"): "own",
    ("GET", "/api/v1/teams/{teamId}/readiness"): ("hrv", "sleep", "readiness"),
    ("GET", "/api/v1/teams/{teamId}/readiness.csv"): ("hrv", "sleep", "readiness"),
    ("GET", "/api/v1/teams/{teamId}/athletes/{athleteId}/trend"): ("hrv", "sleep", "readiness"),
    ("GET", "/api/v1/insights/weekly"): "own",
    ("GET", "/api/v1/teams/{teamId}/insights/weekly"): ("hrv", "sleep", "readiness", "training"),
    ("DELETE", "/api/v1/me"): "own",
    ("GET", "/today"): ("readiness",),
    ("GET", "/week"): "own",
    ("GET", "/teams/{teamId}/week"): ("hrv", "sleep", "readiness", "training"),
    ("GET", "/sleep"): ("sleep",),
    ("GET", "/hrv"): ("hrv",),
    ("GET", "/nudges"): ("sleep",),
    ("POST", "/nudges/preferences"): "own",
    ("GET", "/profile"): "own",
    ("POST", "/profile"): "own",
    ("GET", "/connections"): "own",
    ("GET", "/teams/{teamId}"): ("hrv", "sleep", "readiness"),
    ("GET", "/teams/{teamId}/readiness.csv"): ("hrv", "sleep", "readiness"),
    ("GET", "/teams/{teamId}/athletes/{athleteId}"): ("hrv", "sleep", "readiness"),
    ("GET", "/account/export"): "own",
    ("POST", "/account/delete"): "own",
    ("GET", "/api/v1/plan/sessions"): ("training",),
    ("GET", "/api/v1/plan/sessions/{sessionId}"): ("training",),
    ("PATCH", "/api/v1/plan/sessions/{sessionId}"): ("training",),
    ("DELETE", "/api/v1/plan/sessions/{sessionId}"): ("training",),
    ("GET", "/api/v1/plan/sessions/{sessionId}/adjustment"): ("training",),
    ("POST", "/api/v1/plan/sessions/{sessionId}/adjustment/accept"): ("training",),
    ("POST", "/api/v1/plan/sessions/{sessionId}/adjustment/revert"): ("training",),
    ("POST", "/api/v1/plan/sessions/{sessionId}/complete"): ("training",),
    ("POST", "/api/v1/training/sessions"): "own",
    ("GET", "/api/v1/training/sessions"): ("training",),
    ("GET", "/api/v1/training/load"): ("training",),
    ("GET", "/api/v1/plan/adherence"): ("training",),
    ("GET", "/api/v1/teams/{teamId}/adherence"): ("training",),
    # The plan pages (#14): the athlete's own plan and the forms on it (accept, revert and complete
    # name one planned session, so the policy decides on its owner and only the owner acts there),
    # and a coach's view of one member's plan through the team, with its own accept and revert.
    ("GET", "/plan"): "own",
    ("POST", "/plan/sessions/{sessionId}/accept"): ("training",),
    ("POST", "/plan/sessions/{sessionId}/revert"): ("training",),
    ("POST", "/plan/sessions/{sessionId}/complete"): ("training",),
    ("POST", "/plan/unplanned"): "own",
    ("GET", "/teams/{teamId}/athletes/{athleteId}/plan"): ("training",),
    ("POST", "/teams/{teamId}/athletes/{athleteId}/plan/sessions/{sessionId}/accept"): ("training",),
    ("POST", "/teams/{teamId}/athletes/{athleteId}/plan/sessions/{sessionId}/revert"): ("training",),
    ("GET", "/teams/{teamId}/adherence"): ("training",),
}


# Module level: FastAPI resolves a route's (postponed) annotations in the module's namespace.
DeclaredHrvRead = Annotated[ReadRequest, AthleteRead(signals={"hrv"})]


def routes(app: FastAPI) -> Iterator[tuple[str, str, ReadDeclaration | None]]:
    """Every (method, path) the app serves through FastAPI, with the read it declares."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # Starlette's own: the OpenAPI document and the docs pages
        for method in sorted(route.methods - {"HEAD"}):
            yield method, str(context.path), declared_read(route.dependant)


def dependants(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, str(context.path), route.dependant


def query_parameters(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_parameters(sub)
    return names


def undeclared(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, declaration in routes(app)
        if declaration is None and (method, path) not in NO_ATHLETE_DATA
    ]


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, run_workers=False)


def test_every_route_declares_its_athlete_reads_or_reads_none(app: FastAPI) -> None:
    assert undeclared(app) == []


def test_the_declarations_are_the_expected_ones(app: FastAPI) -> None:
    declared = {
        (method, path): "own" if declaration.own else declaration.signals
        for method, path, declaration in routes(app)
        if declaration is not None
    }
    assert declared == DECLARED
    # Every per-athlete read takes `userId`; own-data routes take no one else's id; team reads
    # name their subjects in the path (`{teamId}`, and `{athleteId}` for one member), never by
    # `userId`; a read of one record names the record in the path, its owner being the subject.
    # Pages are not in the OpenAPI document, so the parameters come from each route's
    # dependencies.
    document = app.openapi()
    query_names = {(method, path): query_parameters(dependant) for method, path, dependant in dependants(app)}
    declarations = {(method, path): found for method, path, found in routes(app) if found is not None}
    for (method, path), what in DECLARED.items():
        names = query_names[method, path]
        declaration = declarations[method, path]
        if declaration.team or declaration.in_team:
            assert "userId" not in names and "{teamId}" in path, (method, path)
            assert ("{athleteId}" in path) == declaration.in_team, (method, path)
        elif declaration.record is not None:
            assert "userId" not in names and path.count("{") == 1, (method, path)
        else:
            assert ("userId" in names) == (what != "own"), (method, path)
        if path.startswith("/api/"):
            listed = {p["name"] for p in document["paths"][path][method.lower()].get("parameters", [])}
            assert names <= listed, (method, path)


def test_the_allow_list_names_only_routes_that_exist_and_declare_nothing(app: FastAPI) -> None:
    served = {(method, path): declaration for method, path, declaration in routes(app)}
    assert set(NO_ATHLETE_DATA) <= set(served)
    assert all(served[route] is None for route in NO_ATHLETE_DATA)


def test_a_route_reading_athlete_data_without_declaring_it_is_caught(app: FastAPI) -> None:
    @app.get("/api/v1/sneaky/hrv")
    def sneaky() -> dict[str, float]:
        return {"rmssd": 61.5}

    @app.get("/api/v1/honest/hrv")
    def honest(read: DeclaredHrvRead) -> dict[str, int]:
        return {"subject": read.subject_id}

    assert undeclared(app) == [("GET", "/api/v1/sneaky/hrv")]


def test_declarations_name_known_signals() -> None:
    with pytest.raises(ValueError):
        AthleteRead(signals={"heart_rate"})
    with pytest.raises(ValueError):
        AthleteRead(signals=set())
