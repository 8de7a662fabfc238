"""``perfhub user``, ``perfhub team`` and ``perfhub token``: people, teams and API tokens."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from perfhub.auth.passwords import generate_password, set_password
from perfhub.auth.schemas import TokenOut
from perfhub.auth.service import (
    create_token,
    create_user,
    get_token,
    issue_token,
    list_tokens,
    revoke_token,
    rotate_token,
    user_by_email,
)
from perfhub.auth.sessions import end_all_sessions
from perfhub.cli.jobs import emit, fail, job, transact
from perfhub.core.db import utcnow
from perfhub.profile.erasure import erase
from perfhub.teams.service import create_team, join_team, open_invitation, parse_signals

user_app = typer.Typer(help="Users.", no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: service tokens, and any token's life cycle.", no_args_is_help=True)


@user_app.command("add")
def user_add(
    email: str,
    role: Annotated[str, typer.Option(help="athlete | coach | admin")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    tz: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Oslo")] = "UTC",
) -> None:
    """Create a user; prints their API token once."""

    def _do(session: Session) -> dict[str, Any]:
        user, token = create_user(session, email, role, name=name, tz=tz)
        return {"id": user.id, "email": user.email, "role": user.role, "token": token}

    emit(transact(_do))


@user_app.command("password")
def user_password(
    email: str,
    generate: Annotated[
        bool, typer.Option("--generate", help="make a random password and print it (JSON on stdout)")
    ] = False,
) -> None:
    """Set the password a person signs in to the web pages with, and sign them out everywhere.

    Without --generate the password is read from standard input (one line; a prompt when it is a
    terminal), so that it never appears in the shell's history or the process list."""
    if generate:
        password = generate_password()
    elif sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("no password given: type one, pipe one on standard input, or use --generate")

    def _do(session: Session) -> dict[str, Any]:
        user = user_by_email(session, email)
        set_password(session, user, password)
        ended = end_all_sessions(session, user.id)
        out: dict[str, Any] = {"email": user.email, "signedOutSessions": ended}
        if generate:
            out["password"] = password
        return out

    emit(transact(_do))


@user_app.command("token")
def user_token(
    email: str,
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", help="expire after N days (default: never)")
    ] = None,
) -> None:
    """Issue another API token for an existing user (shown once; earlier tokens keep working)."""

    def _do(session: Session) -> dict[str, Any]:
        user = user_by_email(session, email)
        row, token = create_token(session, name, user.id, (), expires_in_days)
        return {**TokenOut.of(row, row.created_at).to_json(), "email": user.email, "token": token}

    emit(transact(_do))


@team_app.command("add")
def team_add(name: str, coach: Annotated[str, typer.Option(help="the coach's email")]) -> None:
    """Create a team run by COACH."""

    def _do(session: Session) -> dict[str, Any]:
        team = create_team(session, name, user_by_email(session, coach))
        return {"id": team.id, "name": team.name}

    emit(transact(_do))


@team_app.command("join")
def team_join(
    team_id: int,
    email: str,
    share: Annotated[str, typer.Option(help="signals to share: hrv,sleep,readiness,training")] = "",
) -> None:
    """Add an athlete to a team, sharing only the signals named."""

    def _do(session: Session) -> dict[str, Any]:
        membership = join_team(session, team_id, user_by_email(session, email), parse_signals(share))
        return {
            "teamId": membership.team_id,
            "userId": membership.athlete_id,
            "sharing": membership.sharing(),
        }

    emit(transact(_do))


@team_app.command("invite")
def team_invite(team_id: int, email: str) -> None:
    """Invite EMAIL to a team for 14 days (again while pending: the same invitation). The athlete
    accepts with POST /api/v1/invitations/{id}/accept, choosing what to share."""

    def _do(session: Session) -> dict[str, Any]:
        invitation, _ = open_invitation(session, team_id, email, invited_by_id=None)
        return {
            "id": invitation.id,
            "teamId": invitation.team_id,
            "email": invitation.email,
            "expiresAt": invitation.expires_at.isoformat().replace("+00:00", "Z"),
        }

    emit(transact(_do))


@token_app.command("add")
def token_add(
    name: str,
    scope: Annotated[str, typer.Option(help="ingest")],
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", help="expire after N days (default: never)")
    ] = None,
) -> None:
    """Create a service token (shown once; `token list` shows its id and expiry)."""

    def _do(session: Session) -> dict[str, Any]:
        scopes = tuple(s.strip() for s in scope.split(",") if s.strip())
        # Exactly these keys: the output is pinned by the external contract.
        return {"name": name, "token": issue_token(session, name, None, scopes, expires_in_days)}

    emit(transact(_do))


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="this user's tokens (by email)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every token: users' and service tokens")] = False,
) -> None:
    """Service tokens (or a user's, or all), newest first: {"tokens": [...]}; never a token or its hash."""
    if user is not None and all_:
        fail("give --user or --all, not both", 2)

    def _do(session: Session) -> dict[str, Any]:
        now = utcnow()
        if user is not None:
            rows = list_tokens(session, user_id=user_by_email(session, user).id)
        else:
            rows = list_tokens(session, service=True, everything=all_)
        return {"tokens": [TokenOut.of(row, now).to_json() for row in rows]}

    emit(transact(_do))


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="the token's id (from token list)")]) -> None:
    """Revoke a token at once; requests with it are refused with 401 "token revoked"."""

    def _do(session: Session) -> dict[str, Any]:
        row = revoke_token(session, get_token(session, token_id))
        return TokenOut.of(row, row.revoked_at or row.created_at).to_json()

    emit(transact(_do))


@token_app.command("rotate")
def token_rotate(
    token_id: Annotated[int, typer.Argument(help="the token's id (from token list)")],
    grace_minutes: Annotated[
        int, typer.Option("--grace-minutes", help="keep the old token working this long (0-60)")
    ] = 0,
) -> None:
    """Issue a new token with the same name, owner, scopes and lifetime (shown once) and revoke
    the old one, at once or after the grace period."""

    def _do(session: Session) -> dict[str, Any]:
        old = get_token(session, token_id, for_update=True)
        row, token = rotate_token(session, old, timedelta(minutes=grace_minutes))
        return {**TokenOut.of(row, row.created_at).to_json(), "token": token, "replaces": token_id}

    emit(transact(_do))


@user_app.command("erase")
def user_erase(email: str) -> None:
    """Erase a person and everything about them, as DELETE /api/v1/me does: linked wearables are
    revoked at the vendor first, then every row goes in one transaction; the access log keeps
    only that the erasure happened. Prints {"erased": id, "notRevokedAtVendor": [vendors]}."""
    with job() as current:
        with current.transaction() as session:
            user_id = user_by_email(session, email).id
        erasure = erase(current.transaction, current.settings, user_id, path="perfhub user erase")
    emit({"erased": erasure.user_id, "notRevokedAtVendor": list(erasure.not_revoked)})
