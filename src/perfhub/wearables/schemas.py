"""What the connection and webhook routes accept and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from perfhub.wearables.backfill import days_total
from perfhub.wearables.models import VendorConnection
from perfhub.wearables.vendors.registry import LINKABLE_VENDORS

if TYPE_CHECKING:
    LinkableVendor = str
else:
    # Built from the registry, a Literal still gives the path parameter its OpenAPI enum.
    LinkableVendor = Literal[LINKABLE_VENDORS]
BackfillStatus = Literal["queued", "running", "done", "failed"]
ConnectionReason = Literal["moved", "unlinked", "refresh_refused"]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    move_existing: bool = Field(
        default=False,
        alias="moveExisting",
        description="should the vendor account be linked to another athlete, move it to you without "
        "asking again (their link is revoked)",
    )


class LinkOut(BaseModel):
    auth_url: str = Field(serialization_alias="authUrl")


class LinkedOut(BaseModel):
    vendor: str
    status: Literal["linked"]


class LinkPendingOut(BaseModel):
    """The vendor sent back a browser that did not start this link: nothing is linked until the
    athlete who started it completes it, with ``completion``, from their own app."""

    vendor: str
    status: Literal["pending"]
    completion: str = Field(description="for POST /connections/{vendor}/complete, by the starter only")
    detail: str


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    state: str = Field(min_length=8, max_length=200, description="the `state` of the link's `authUrl`")
    completion: str | None = Field(
        default=None, max_length=200, description="what the callback answered a browser without the cookie"
    )
    code: str | None = Field(
        default=None,
        max_length=2000,
        description="the vendor's code, for an app that caught the vendor's redirect itself",
    )
    move_existing: bool = Field(
        default=False,
        alias="moveExisting",
        description="confirms moving a vendor account linked to another athlete to you",
    )


class BackfillOut(BaseModel):
    """The history backfill the last link started: ``daysDone`` of ``daysTotal`` wake dates
    (``from``..``to``, newest first). While a vendor rate limit is waited out ``status`` stays
    ``running`` and ``error`` says until when."""

    status: BackfillStatus
    from_: date = Field(serialization_alias="from")
    to: date
    days_done: int = Field(serialization_alias="daysDone")
    days_total: int = Field(serialization_alias="daysTotal")
    records: int
    error: str | None
    started_at: datetime | None = Field(serialization_alias="startedAt")
    finished_at: datetime | None = Field(serialization_alias="finishedAt")

    @classmethod
    def of(cls, connection: VendorConnection) -> BackfillOut | None:
        if connection.backfill_status is None or connection.backfill_from is None:
            return None  # linked before link backfills existed
        assert connection.backfill_to is not None
        return cls(
            status=cast(BackfillStatus, connection.backfill_status),
            from_=connection.backfill_from,
            to=connection.backfill_to,
            days_done=connection.backfill_days_done or 0,
            days_total=days_total(connection),
            records=connection.backfill_records or 0,
            error=connection.backfill_error,
            started_at=connection.backfill_started_at,
            finished_at=connection.backfill_finished_at,
        )


class ConnectionOut(BaseModel):
    vendor: str
    status: str
    linked_at: datetime | None = Field(serialization_alias="linkedAt")
    last_sync_at: datetime | None = Field(serialization_alias="lastSyncAt")
    reason: ConnectionReason | None = Field(
        default=None,
        description="why it is not linked: `moved` (another athlete linked this vendor account and "
        "confirmed), `unlinked` (you did), `refresh_refused` (the vendor refused perfhub: link again)",
    )
    revoked_at: datetime | None = Field(default=None, serialization_alias="revokedAt")
    backfill: BackfillOut | None = None
