"""What a team membership can share, and what the team, invitation and sharing endpoints accept
and answer.

No imports from the rest of the domain: ``teams.models`` and the privacy rules import
``SIGNALS`` from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

# The order is the order shown and stored; privacy.disclosure says what each one discloses.
SIGNALS = ("hrv", "sleep", "readiness", "training")

TeamRole = Literal["coach", "member", "admin"]
# What an invitation is now: "expired" is a pending one past its expiry (it is stored as pending).
InvitationStatus = Literal["pending", "accepted", "declined", "revoked", "expired"]


def _storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded at all.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from exc
    return value


def _team_name(value: str) -> str:
    value = _storable_text(value).strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def email_address(value: str) -> str:
    # As auth.service.create_user stores them: trimmed and lower-case, so that matching an
    # invitation to its athlete is an equality.
    value = _storable_text(value).strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in value):
        raise ValueError("must be an email address")
    return value


TeamName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_team_name)]
Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(email_address)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Person(BaseModel):
    id: int
    name: str


class Sharing(BaseModel):
    """Which signals an athlete shares with a team."""

    hrv: bool
    sleep: bool
    readiness: bool
    training: bool


class TeamOut(BaseModel):
    id: int
    name: str
    coaches: list[Person] = Field(description="in the order they were added")


class TeamSummaryOut(TeamOut):
    role: TeamRole = Field(description="the caller's part in the team; `admin`: an admin not coaching it")
    athlete_count: int = Field(serialization_alias="athleteCount")


class MemberOut(BaseModel):
    athlete_id: int = Field(serialization_alias="athleteId")
    name: str
    sharing: Sharing
    joined_at: datetime = Field(serialization_alias="joinedAt")


class TeamDetailOut(TeamOut):
    """A team as its coaches and admins see it: every member with what they share."""

    members: list[MemberOut]


class MemberTeamOut(TeamOut):
    """A team as one of its athletes sees it: its coaches and what they themself share."""

    sharing: Sharing


class TeamCreate(_Body):
    name: TeamName
    coach_email: Email | None = Field(
        default=None, alias="coachEmail", description="admins: the coach who runs it (default: yourself)"
    )


class CoachAdd(_Body):
    email: Email = Field(description="a person with the coach role")


class InvitationCreate(_Body):
    email: Email = Field(description="the athlete's email; they need not have an account yet")


class InvitationOut(BaseModel):
    id: int
    team_id: int = Field(serialization_alias="teamId")
    team_name: str = Field(serialization_alias="teamName")
    email: str
    status: InvitationStatus
    created_at: datetime = Field(serialization_alias="createdAt")
    expires_at: datetime = Field(serialization_alias="expiresAt")
    responded_at: datetime | None = Field(serialization_alias="respondedAt")
    invited_by: Person | None = Field(serialization_alias="invitedBy", description="null: removed since")


class ReceivedInvitationOut(InvitationOut):
    """An invitation as its athlete sees it: who runs the team they are asked to join."""

    coaches: list[Person]


class InvitationAnswer(_Body):
    """What the athlete shares with the team on joining; anything omitted is not shared."""

    hrv: StrictBool = False
    sleep: StrictBool = False
    readiness: StrictBool = False
    training: StrictBool = False

    def signals(self) -> set[str]:
        return {signal for signal in SIGNALS if getattr(self, signal)}


class SharingOut(BaseModel):
    team_id: int = Field(serialization_alias="teamId")
    team_name: str = Field(serialization_alias="teamName")
    signals: Sharing


class SharingUpdate(_Body):
    """Any of the four signals, each turned on or off; the others stay as they are."""

    hrv: StrictBool | None = None
    sleep: StrictBool | None = None
    readiness: StrictBool | None = None
    training: StrictBool | None = None

    @model_validator(mode="after")
    def _some_signal_given(self) -> SharingUpdate:
        given = self.changes()
        if not given:
            raise ValueError(f"give at least one of {', '.join(SIGNALS)}")
        if len(given) != len(self.model_fields_set):
            raise ValueError("a signal is true or false, never null")
        return self

    def changes(self) -> dict[str, bool]:
        return {
            signal: value
            for signal in SIGNALS
            if signal in self.model_fields_set and (value := getattr(self, signal)) is not None
        }
