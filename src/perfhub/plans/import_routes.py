"""POST /plan/import: a training plan file (CSV or iCalendar) into an athlete's plan.

Who may import for whom is decided as for POST /plan/sessions: the athlete named by
``athleteId`` (default: the caller) must share ``training`` with the caller, through the privacy
policy, before the file is even read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from perfhub.auth.deps import CurrentUser
from perfhub.auth.models import User
from perfhub.core.bounds import MAX_ID
from perfhub.core.dates import local_today
from perfhub.core.db import retry_on_conflict
from perfhub.core.deps import UnitOfWork, UowDep
from perfhub.core.errors import BadRequest, PayloadTooLarge
from perfhub.plans.importing import MAX_FILE_BYTES, parse_file
from perfhub.plans.imports_service import RACE_LOST, import_sessions
from perfhub.privacy.policy import authorize_read

router = APIRouter(tags=["plans"])

TRAINING = ("training",)
_FILE_SCHEMA = {"type": "string", "description": "the plan file, UTF-8"}
# The body is read by hand (a file part or the raw body), so the document says what it may be.
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "text/csv": {"schema": _FILE_SCHEMA},
            "text/calendar": {"schema": _FILE_SCHEMA},
        },
    }
}


class ImportErrorOut(BaseModel):
    row: int | None = Field(description="CSV: the line of the row (the header is 1); iCalendar: null")
    uid: str | None = Field(description="the row's uid or the event's UID, when it has one")
    field: str | None = Field(description="the session field at fault (date, sport, type, durationMin…)")
    message: str


class ImportResult(BaseModel):
    format: Literal["csv", "ics"]
    dry_run: bool = Field(alias="dryRun", description="true: nothing was written")
    created: int = Field(description="new sessions")
    updated: int = Field(description="sessions of an earlier import of the file, changed to match it")
    unchanged: int = Field(description="sessions of an earlier import of the file, already as in it")
    skipped: int = Field(description="cancelled events (STATUS:CANCELLED)")
    removed: int = Field(description="sessions of an earlier import of the calendar that it now cancels")
    errors: list[ImportErrorOut] = Field(description="rows and events left out, with why")


@router.post("/plan/import", response_model=ImportResult, openapi_extra=REQUEST_BODY)
async def import_plan(
    request: Request,
    uow: UowDep,
    user: CurrentUser,
    athlete_id: Annotated[
        int | None,
        Query(alias="athleteId", gt=0, le=MAX_ID, description="a coach: the athlete of your team it is for"),
    ] = None,
    dry_run: Annotated[bool, Query(alias="dryRun", description="check the file, write nothing")] = False,
) -> ImportResult:
    """Import a training plan: a CSV file or an iCalendar (.ics) file, as a multipart upload (the
    part `file`) or as the raw body (`Content-Type: text/csv` or `text/calendar`; otherwise the
    file name or the content decides). For yourself, or (`athleteId`) for an athlete of a team
    you coach who shares training with it.

    **Valid rows are kept when others are bad**: every row or event that makes a session is
    imported, and each one left out is listed in `errors` with its row or UID, the field and why.
    Only when no row at all can be imported is the answer 422 (listing them) and nothing is
    written. Sessions with a UID (an event's UID, a CSV `uid`) that an earlier import created
    are updated rather than planned again; nothing else of the plan is changed or removed.
    `dryRun=true` answers the same counts and errors and writes nothing.

    An empty file, one that is not UTF-8, or not CSV (with its header) or iCalendar is 422; a
    body over the API's body limit is 413."""
    data, content_type, filename = await _file(request)
    return await run_in_threadpool(
        _import, uow, user, athlete_id or user.id, data, content_type, filename, dry_run, request.url.path
    )


async def _file(request: Request) -> tuple[bytes, str | None, str | None]:
    content_type = request.headers.get("content-type")
    if (content_type or "").lower().startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=8) as form:
            part = form.get("file")
            if isinstance(part, UploadFile):
                return await _read(part.read), part.content_type, part.filename
            if isinstance(part, str):
                return part.encode("utf-8", "surrogateescape"), None, None
        raise BadRequest("the form has no part named file: send the plan as the part `file`")
    return await _read(request.body), content_type, None


async def _read(read: Any) -> bytes:
    data: bytes = await read()
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"the file is larger than a plan import accepts ({MAX_FILE_BYTES} bytes)")
    return data


def _import(
    uow: UnitOfWork,
    user: User,
    athlete_id: int,
    data: bytes,
    content_type: str | None,
    filename: str | None,
    dry_run: bool,
    path: str,
) -> ImportResult:
    def attempt() -> ImportResult:
        with uow() as session:
            access = authorize_read(session, user, athlete_id, TRAINING, path)
            athlete = access.subject
            today = local_today(athlete.tz)
            plan = parse_file(data, tz=athlete.tz, today=today, content_type=content_type, filename=filename)
            count = import_sessions(session, user, athlete, plan, dry_run=dry_run)
            refusal = count.refusal()
            if refusal is not None:
                raise refusal  # and the transaction rolls back: nothing is written
            return ImportResult.model_validate(count.to_json(plan.format, dry_run=dry_run))

    # Two imports of the same file at once (a double click) race to create its sessions: the
    # one that loses runs again and finds them.
    return retry_on_conflict(attempt, gave_up=RACE_LOST)
