from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perfhub.core.db import Base, UTCDateTime, utcnow
from perfhub.teams.schemas import SIGNALS


class Team(Base):
    """A group of athletes and the coaches who run it (``TeamCoach``: one or more)."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TeamCoach(Base):
    """A coach of a team. A team may have several; a coach may run several teams."""

    __tablename__ = "team_coach"
    __table_args__ = (UniqueConstraint("team_id", "coach_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


INVITATION_STATUSES = ("pending", "accepted", "declined", "revoked")


class TeamInvitation(Base):
    """An invitation for the athlete with ``email`` to join a team. They choose what to share
    when they accept; until then nothing of theirs is visible to the team."""

    __tablename__ = "team_invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TeamMembership(Base):
    """An athlete in a team, with what they share with it. Nothing is shared by default."""

    __tablename__ = "team_membership"
    __table_args__ = (UniqueConstraint("team_id", "athlete_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    share_hrv: Mapped[bool] = mapped_column(Boolean, default=False)
    share_sleep: Mapped[bool] = mapped_column(Boolean, default=False)
    share_readiness: Mapped[bool] = mapped_column(Boolean, default=False)
    share_training: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def sharing(self) -> dict[str, bool]:
        return {signal: bool(getattr(self, f"share_{signal}")) for signal in SIGNALS}


class TeamMembershipSpan(Base):
    """When an athlete was in a team: from joining to leaving (None while they are in it).

    A membership row ends with the membership; its span stays, so that a report over a period
    counts the athletes who were in the team then, on the days they were."""

    __tablename__ = "team_membership_span"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
