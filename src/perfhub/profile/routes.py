from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from perfhub.auth.models import User
from perfhub.core.deps import UowDep
from perfhub.core.errors import NotFound, Unauthorized
from perfhub.privacy.deps import OwnRead
from perfhub.profile.erasure import erase
from perfhub.profile.export import file_blocks, filename, spooled_export
from perfhub.profile.schemas import MeOut, MePatch
from perfhub.profile.service import update_profile
from perfhub.readings.queries import source_priority

router = APIRouter(prefix="/me", tags=["me"])


def me_out(user: User) -> MeOut:
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        tz=user.tz,
        sleep_need_min=user.sleep_need_min,
        source_priority=list(source_priority(user)),
    )


@router.get("", response_model=MeOut, response_model_by_alias=True)
def get_me(me: OwnRead) -> MeOut:
    """Your profile and the settings readiness uses (time zone, sleep need, source priority).
    ``sleepNeedMin`` is null while your need is estimated from your own nights."""
    return me_out(me.viewer)


@router.patch("", response_model=MeOut, response_model_by_alias=True)
def patch_me(body: MePatch, uow: UowDep, me: OwnRead) -> MeOut:
    """Change settings. ``sleepNeedMin: null`` goes back to the need estimated from your nights.
    A new sleep need or source priority recomputes your readiness history."""
    with uow() as session:
        return me_out(update_profile(session, me.subject_id, body))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "everything perfhub holds about you, as one JSON document (a download)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def export_me(uow: UowDep, me: OwnRead) -> StreamingResponse:
    """All of your data as JSON: profile, tokens and sessions (never their secrets), HRV and
    sleep days, readiness, nudges, what your wearables and imports delivered, connections,
    teams and invitations, and the access log of who read your data."""
    with uow() as session:
        document = spooled_export(session, me.subject_id)
    return StreamingResponse(
        file_blocks(document),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename(me.subject_id)}"',
            "Cache-Control": "no-store",  # a person's whole record: no cache keeps a copy
        },
    )


@router.delete("", status_code=204, response_class=Response)
def delete_me(request: Request, uow: UowDep, me: OwnRead) -> Response:
    """Erase your account and everything about you, at once and for good. Linked wearables are
    revoked at the vendor first (one that cannot be reached does not stop the erasure). The
    access log keeps one record: that an erasure happened, and when."""
    try:
        erase(uow, request.app.state.settings, me.subject_id, path=request.url.path)
    except NotFound as exc:
        # Erased by a request that finished after this one was authenticated.
        raise Unauthorized("invalid token") from exc
    return Response(status_code=204)
