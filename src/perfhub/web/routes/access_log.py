"""The access-log page: every read of the viewer's data by someone else — who, when (in the
viewer's time zone), which signals and through which page or API path, in words — newest first,
a page at a time.

The rows are :func:`perfhub.privacy.queries.audit_page`'s, as ``GET /api/v1/audit`` serves
them, narrowed to reads of the viewer's own data (a coach's own trail of reads is the API's).
Paging goes by id cursors (``before``), so a page is the same however many reads arrive
meanwhile; the way back to newer pages travels in the URL (``trail``), the cursors of the pages
walked through, so "Newer" needs no query of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from perfhub.core.bounds import MAX_ID
from perfhub.core.deps import UowDep
from perfhub.core.errors import Unprocessable
from perfhub.privacy.paths import words_for_path
from perfhub.privacy.queries import AuditRecord, audit_page
from perfhub.privacy.schemas import DELETED_ACCOUNT
from perfhub.web.deps import Viewer
from perfhub.web.routes._charts import MONTHS, WEEKDAYS
from perfhub.web.routes._words import signals_in_words
from perfhub.web.templating import render

router = APIRouter()

PAGE_SIZE = 25
# How many newer pages the URL remembers; from deeper down, "Newer" past them is the newest page.
MAX_TRAIL = 100
NEWEST = 0  # the cursor of the newest page in a trail (it has no `before`)

ROLE_WORDS = {"coach": "coach", "admin": "administrator", "athlete": "athlete"}


@dataclass(frozen=True)
class ReadView:
    at_iso: str
    at_words: str
    who: str
    role: str
    signals: str
    where: str
    path: str


@dataclass(frozen=True)
class Paging:
    newer: str | None
    older: str | None


def parse_trail(raw: str | None) -> list[int]:
    """The cursors of the newer pages, oldest walk first; 422 for anything but ids."""
    if not raw:
        return []
    try:
        cursors = [int(part) for part in raw.split(",")]
    except ValueError as exc:
        raise Unprocessable(
            "trail must be page cursors separated by commas", [{"loc": ["query", "trail"], "msg": "not ids"}]
        ) from exc
    if any(not NEWEST <= cursor <= MAX_ID for cursor in cursors):
        raise Unprocessable("trail holds an id out of range", [{"loc": ["query", "trail"], "msg": "bad id"}])
    return cursors[-MAX_TRAIL:]


def _href(before: int | None, trail: list[int]) -> str:
    if before is None or before == NEWEST:
        return "/access-log"
    query: dict[str, Any] = {"before": before}
    if trail:
        query["trail"] = ",".join(str(cursor) for cursor in trail)
    return "/access-log?" + urlencode(query)


def paging(before: int | None, trail: list[int], last_id: int | None, has_older: bool) -> Paging:
    """Links to the next older page (after ``last_id``) and back to the newer one."""
    older = None
    if has_older and last_id is not None:
        older = _href(last_id, [*trail, before or NEWEST][-MAX_TRAIL:])
    newer = None
    if before is not None:
        newer = _href(trail[-1], trail[:-1]) if trail else _href(None, [])
    return Paging(newer, older)


def moment_words(at: datetime, tz: str) -> tuple[str, str]:
    """``Tue 25 Nov 2025, 14:05`` in ``tz``, and the same moment in ISO 8601 with its offset."""
    local = at.astimezone(ZoneInfo(tz))
    words = (
        f"{WEEKDAYS[local.weekday()][:3]} {local.day} {MONTHS[local.month - 1][:3]} {local.year}, "
        f"{local:%H:%M}"
    )
    return local.isoformat(timespec="minutes"), words


def sentence_start(words: str) -> str:
    # str.capitalize would lower the rest ("the API" → "The api").
    return words[:1].upper() + words[1:]


def read_view(record: AuditRecord, tz: str) -> ReadView:
    entry = record.entry
    at_iso, at_words = moment_words(entry.at, tz)
    erased = entry.actor_id is None or not record.actor_name
    return ReadView(
        at_iso=at_iso,
        at_words=at_words,
        who=DELETED_ACCOUNT if erased else str(record.actor_name),
        role=ROLE_WORDS.get(entry.actor_role, entry.actor_role),
        signals=signals_in_words(entry.signals),
        where=sentence_start(words_for_path(entry.path)),
        path=entry.path,
    )


@router.get("/access-log")
def access_log_page(
    request: Request,
    uow: UowDep,
    viewer: Viewer,
    before: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    trail: Annotated[str | None, Query(max_length=MAX_TRAIL * 13)] = None,
) -> Response:
    cursors = parse_trail(trail)
    with uow() as session:
        # One row more than shown says whether an older page exists, without counting.
        records = audit_page(session, viewer, limit=PAGE_SIZE + 1, before=before, subject_id=viewer.id)
    shown = records[:PAGE_SIZE]
    links = paging(before, cursors, shown[-1].entry.id if shown else None, len(records) > PAGE_SIZE)
    return render(
        request,
        "access_log.html",
        {
            "reads": [read_view(record, viewer.tz) for record in shown],
            "paging": links,
            "first_page": before is None,
            "tz": viewer.tz,
        },
        user=viewer,
        title="Access log",
    )
