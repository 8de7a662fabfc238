"""Imports every domain's models so that ``Base.metadata`` knows the whole schema."""

from perfhub.alerts.models import Alert, AlertPreference
from perfhub.auth.models import ApiToken, LoginFailure, User, WebSession
from perfhub.core.db import Base
from perfhub.core.outbox import DeadLetter, OutboxDelivery, OutboxRow
from perfhub.insights.models import WeeklyInsight
from perfhub.plans.models import AdjustmentDecision, PlannedSession, SessionAdjustment
from perfhub.privacy.models import AuditEntry
from perfhub.readiness.models import ReadinessSnapshotRow
from perfhub.readings.models import HrvDaily, RawEvent, SleepDaily, Workout
from perfhub.teams.models import Team, TeamCoach, TeamInvitation, TeamMembership, TeamMembershipSpan
from perfhub.training.models import CompletedSession
from perfhub.wearables.models import OAuthState, VendorConnection, WebhookReceipt

__all__ = [
    "AdjustmentDecision",
    "Alert",
    "AlertPreference",
    "ApiToken",
    "AuditEntry",
    "Base",
    "CompletedSession",
    "DeadLetter",
    "HrvDaily",
    "LoginFailure",
    "OAuthState",
    "OutboxDelivery",
    "OutboxRow",
    "PlannedSession",
    "RawEvent",
    "ReadinessSnapshotRow",
    "SessionAdjustment",
    "SleepDaily",
    "Team",
    "TeamCoach",
    "TeamInvitation",
    "TeamMembership",
    "TeamMembershipSpan",
    "User",
    "VendorConnection",
    "WebSession",
    "WebhookReceipt",
    "WeeklyInsight",
    "Workout",
]
