"""API tokens: list, issue, revoke and rotate.

Anyone manages their own tokens; an admin manages anyone's and issues service tokens. A token
that is not the caller's is answered 404, exactly as one that does not exist, so that ids do
not reveal which tokens exist. Service tokens cannot call these endpoints (403).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from perfhub.auth.deps import CurrentUser, PrincipalDep
from perfhub.auth.models import User
from perfhub.auth.schemas import IssuedTokenOut, TokenCreate, TokenOut, TokenRotate
from perfhub.auth.service import create_token, list_tokens, revoke_token, rotate_token, token_of
from perfhub.core.bounds import MAX_ID
from perfhub.core.db import utcnow
from perfhub.core.deps import UowDep
from perfhub.core.errors import Forbidden, NotFound, Unprocessable

router = APIRouter(prefix="/tokens", tags=["tokens"])
TokenId = Annotated[int, Path(gt=0, le=MAX_ID, description="a token's id from GET /tokens")]


@router.get("", response_model=list[TokenOut], response_model_by_alias=True)
def get_tokens(
    uow: UowDep,
    user: CurrentUser,
    principal: PrincipalDep,
    user_id: Annotated[
        int | None, Query(alias="userId", gt=0, le=MAX_ID, description="another user's tokens (admins)")
    ] = None,
    all_: Annotated[bool, Query(alias="all", description="every token, service tokens too (admins)")] = False,
) -> list[TokenOut]:
    """Your tokens, newest first, revoked and expired ones included. Never the token or its hash."""
    if all_ and user_id is not None:
        raise Unprocessable(
            "give userId or all, not both", [{"loc": ["query", "all"], "msg": "not with userId"}]
        )
    is_admin = user.role == "admin"
    if all_ and not is_admin:
        raise Forbidden("only an admin may list every token")
    owner = user.id if user_id is None else user_id
    now = utcnow()
    with uow() as session:
        if not all_ and owner != user.id and (not is_admin or session.get(User, owner) is None):
            raise NotFound(f"no user with id {owner}")
        rows = list_tokens(session, user_id=owner, everything=all_)
        return [TokenOut.of(row, now, principal.token_id) for row in rows]


@router.post("", status_code=201, response_model=IssuedTokenOut, response_model_by_alias=True)
def post_token(body: TokenCreate, uow: UowDep, user: CurrentUser) -> IssuedTokenOut:
    """Issue a personal token for yourself (an admin: a service token, by giving `scopes`).
    The token is in the answer this once; only its hash is kept."""
    if body.scopes is not None and user.role != "admin":
        raise Forbidden("only an admin issues service tokens")
    owner = None if body.scopes is not None else user.id
    with uow() as session:
        row, token = create_token(session, body.name, owner, body.scopes or (), body.expires_in_days)
        return IssuedTokenOut(**TokenOut.of(row, row.created_at).model_dump(), token=token)


@router.delete("/{token_id}", status_code=204, response_class=Response)
def delete_token(token_id: TokenId, uow: UowDep, user: CurrentUser) -> Response:
    """Revoke a token at once (revoking one already revoked changes nothing). Your own, or any
    for an admin; the token this request is made with may be revoked too."""
    with uow() as session:
        revoke_token(session, token_of(session, user, token_id))
    return Response(status_code=204)


@router.post(
    "/{token_id}/rotate", status_code=201, response_model=IssuedTokenOut, response_model_by_alias=True
)
def post_rotate(
    token_id: TokenId, uow: UowDep, user: CurrentUser, body: TokenRotate | None = None
) -> IssuedTokenOut:
    """Replace a live token by a new one with the same name, scopes and lifetime. The old one is
    revoked at once, or with `graceMinutes` (at most 60) expires that much later. A token is
    rotated once; a revoked or expired one is 409."""
    grace = timedelta(minutes=body.grace_minutes if body is not None else 0)
    with uow() as session:
        old = token_of(session, user, token_id, for_update=True)
        row, token = rotate_token(session, old, grace)
        return IssuedTokenOut(**TokenOut.of(row, row.created_at).model_dump(), token=token, replaces=old.id)
