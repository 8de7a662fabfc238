"""What the token endpoints and the ``perfhub token`` commands show of a token: never the
token itself (except once, when issued) and never its hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from perfhub.auth.models import ApiToken
from perfhub.auth.service import MAX_LIFETIME_DAYS, MAX_ROTATION_GRACE, TokenStatus, token_status

Scope = Literal["ingest"]


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it by")
    user_id: int | None = Field(serialization_alias="userId", description="null for a service token")
    scopes: list[str]
    status: TokenStatus
    created_at: datetime = Field(serialization_alias="createdAt")
    expires_at: datetime | None = Field(serialization_alias="expiresAt", description="null: never")
    last_used_at: datetime | None = Field(
        serialization_alias="lastUsedAt", description="to within a minute; null: never used"
    )
    revoked_at: datetime | None = Field(serialization_alias="revokedAt")
    replaced_by: int | None = Field(
        serialization_alias="replacedBy", description="the token it was rotated to"
    )
    current: bool = Field(default=False, description="the token this request was made with")

    @classmethod
    def of(cls, row: ApiToken, now: datetime, current_token_id: int | None = None) -> TokenOut:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            user_id=row.user_id,
            scopes=list(row.scopes or ()),
            status=token_status(row, now),
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            replaced_by=row.replaced_by_id,
            current=row.id == current_token_id,
        )

    def to_json(self) -> dict[str, Any]:
        """For the CLI, where no token made the request, so ``current`` means nothing."""
        return self.model_dump(mode="json", by_alias=True, exclude={"current"})


class IssuedTokenOut(TokenOut):
    token: str = Field(description="the token itself: shown this once, stored only as a hash")
    replaces: int | None = Field(default=None, description="the token this one was rotated from")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(
        default=None, alias="expiresInDays", ge=1, le=MAX_LIFETIME_DAYS, description="null: never expires"
    )
    scopes: list[Scope] | None = Field(
        default=None,
        min_length=1,
        description="admins only: makes a service token with these scopes instead of a personal one",
    )


class TokenRotate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    grace_minutes: int = Field(
        default=0,
        alias="graceMinutes",
        ge=0,
        le=int(MAX_ROTATION_GRACE.total_seconds() // 60),
        description="how long the old token keeps working; 0 revokes it at once",
    )
