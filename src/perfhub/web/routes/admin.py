"""The admin overview: how many people, teams and connections there are, and whether the
pipeline is keeping up (dead letters waiting, events not yet delivered). Counts only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from prometheus_client import REGISTRY
from starlette.responses import Response

from perfhub.auth.models import User
from perfhub.auth.queries import users_by_role
from perfhub.core.dead_letters import list_dead_letters
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden
from perfhub.pipeline.runtime import Runtime
from perfhub.teams.queries import count_teams
from perfhub.wearables.queries import connections_by_status
from perfhub.web.deps import Viewer
from perfhub.web.templating import render

router = APIRouter()

# Dead letters are listed to this many; past it the page says "at least" (the CLI lists them all).
DEAD_LETTERS_SHOWN = 100


def admin_user(user: Viewer) -> User:
    if user.role != "admin":
        article = "an" if user.role[:1] in "aeiou" else "a"
        raise Forbidden(f"This page is for administrators; yours is {article} {user.role} account.")
    return user


AdminViewer = Annotated[User, Depends(admin_user)]


@dataclass(frozen=True)
class Backlog:
    events: int | None  # None: not measured yet
    words: str


def pipeline_backlog(runtime: Runtime) -> Backlog:
    """Events waiting for the pipeline: counted in the outbox when this process runs the consumers;
    with NATS, what the workers last reported to the ``perfhub_outbox_backlog`` gauge."""
    if not runtime.uses_nats:
        return Backlog(runtime.bus.pending(), "events committed and not yet handled by every stage")
    value = REGISTRY.get_sample_value("perfhub_outbox_backlog")
    return Backlog(
        None if value is None else int(value), "events not yet published to NATS, as last measured"
    )


@router.get("/admin")
def admin_page(request: Request, uow: UowDep, viewer: AdminViewer) -> Response:
    with uow() as session:
        roles = users_by_role(session)
        teams = count_teams(session)
        connections = connections_by_status(session)
        dead = len(list_dead_letters(session, limit=DEAD_LETTERS_SHOWN + 1))
    backlog = pipeline_backlog(request.app.state.runtime)
    return render(
        request,
        "admin.html",
        {
            "roles": roles,
            "people": sum(roles.values()),
            "teams": teams,
            "connections": connections,
            "dead_letters": min(dead, DEAD_LETTERS_SHOWN),
            "dead_letters_more": dead > DEAD_LETTERS_SHOWN,
            "backlog": backlog,
        },
        user=viewer,
        title="Overview",
    )
