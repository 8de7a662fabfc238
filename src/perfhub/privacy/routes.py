"""``GET /audit``: who read whose data, when, which signals and through which path."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from perfhub.auth.deps import CurrentUser
from perfhub.core.bounds import MAX_ID
from perfhub.core.deps import UowDep
from perfhub.privacy.queries import audit_page
from perfhub.privacy.schemas import AUDIT_LIMIT_DEFAULT, AUDIT_LIMIT_MAX, AuditEntryOut

router = APIRouter(tags=["privacy"])


@router.get("/audit", response_model=list[AuditEntryOut], response_model_by_alias=True)
def list_audit(
    request: Request,
    response: Response,
    uow: UowDep,
    user: CurrentUser,
    limit: int = Query(AUDIT_LIMIT_DEFAULT, ge=1, le=AUDIT_LIMIT_MAX, description="rows per page"),
    before: int | None = Query(
        None, gt=0, le=MAX_ID, description="only rows older than this id (the `Link` header's next page)"
    ),
    subject_id: int | None = Query(
        None, alias="subjectId", gt=0, le=MAX_ID, description="only reads of this person's data"
    ),
) -> list[AuditEntryOut]:
    """The access log, newest first: an athlete sees every read of their data by someone else
    (who, with their name; which signals; when; the path, in words); a coach sees those of their
    own data and the reads they made; an admin sees everything, erasures included. When there
    are more rows, the `Link` header (RFC 8288) names the next page (`rel="next"`)."""
    with uow() as session:
        # One row more than asked says whether a next page exists, without counting.
        records = audit_page(session, user, limit=limit + 1, before=before, subject_id=subject_id)
        shown = [AuditEntryOut.of(record) for record in records[:limit]]
    if len(records) > limit:
        following = request.url.include_query_params(before=shown[-1].id, limit=limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return shown
