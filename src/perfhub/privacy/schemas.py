"""What ``GET /audit`` answers: the access log, in words as well as ids."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from perfhub.privacy.paths import describe_path
from perfhub.privacy.queries import AuditRecord

# Who read, when the reader's account has since been erased.
DELETED_ACCOUNT = "a deleted account"

AUDIT_LIMIT_DEFAULT = 100
AUDIT_LIMIT_MAX = 500


class AuditEntryOut(BaseModel):
    id: int = Field(description="the row's id; pass it as `before` to page on")
    at: datetime
    actor_id: int | None = Field(serialization_alias="actorId", description="null: an erased account")
    actor_role: str = Field(serialization_alias="actorRole")
    actor_name: str = Field(serialization_alias="actorName")
    subject_id: int = Field(serialization_alias="subjectId", description="whose data was read")
    signals: list[str] = Field(description="the signals the response carried")
    path: str
    path_description: str = Field(serialization_alias="pathDescription")
    kind: Literal["read", "erasure"] = Field(
        description="`read`, or `erasure`: the one record left of an erased account (admins only)"
    )

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEntryOut:
        entry = record.entry
        return cls(
            id=entry.id,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_role=entry.actor_role,
            actor_name=record.actor_name
            if entry.actor_id is not None and record.actor_name
            else DELETED_ACCOUNT,
            subject_id=entry.subject_id,
            signals=list(entry.signals),
            path=entry.path,
            path_description=describe_path(entry.path),
            kind="erasure" if entry.kind == "erasure" else "read",
        )
