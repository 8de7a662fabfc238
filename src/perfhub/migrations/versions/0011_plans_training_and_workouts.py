"""planned sessions, their adjustments and decisions; completed sessions; wearable workouts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 17:11:16
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import perfhub.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "planned_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("sport", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("intensity", JSON, nullable=True),
        sa.Column("planned_load", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_uid", sa.String(length=255), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["user_account.id"],
            name=op.f("fk_planned_session_athlete_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_planned_session_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_session")),
        sa.UniqueConstraint(
            "athlete_id", "external_uid", name=op.f("uq_planned_session_athlete_id_external_uid")
        ),
    )
    with op.batch_alter_table("planned_session", schema=None) as batch_op:
        batch_op.create_index("ix_planned_session_athlete_id_date", ["athlete_id", "date"], unique=False)

    op.create_table(
        "workout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=32), nullable=False),
        sa.Column("vendor_id", sa.String(length=128), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("start_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("utc_offset_min", sa.Integer(), nullable=True),
        sa.Column("sport", sa.String(length=60), nullable=False),
        sa.Column("duration_min", sa.Float(), nullable=False),
        sa.Column("strain", sa.Float(), nullable=True),
        sa.Column("intensity", sa.String(length=16), nullable=True),
        sa.Column("average_hr", sa.Float(), nullable=True),
        sa.Column("energy_kj", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("source_device", sa.String(length=200), nullable=True),
        sa.Column("captured_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_workout_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workout")),
        sa.UniqueConstraint(
            "user_id", "vendor", "vendor_id", name=op.f("uq_workout_user_id_vendor_vendor_id")
        ),
    )
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.create_index("ix_workout_user_id_date", ["user_id", "date"], unique=False)

    op.create_table(
        "completed_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("sport", sa.String(length=60), nullable=False),
        sa.Column("duration_min", sa.Float(), nullable=False),
        sa.Column("rpe", sa.Float(), nullable=False),
        sa.Column("rpe_estimated", sa.Boolean(), nullable=False),
        sa.Column("load", sa.Float(), nullable=False),
        sa.Column("planned_session_id", sa.Integer(), nullable=True),
        sa.Column("workout_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["user_account.id"],
            name=op.f("fk_completed_session_athlete_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"],
            ["user_account.id"],
            name=op.f("fk_completed_session_entered_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["planned_session_id"],
            ["planned_session.id"],
            name=op.f("fk_completed_session_planned_session_id_planned_session"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workout_id"],
            ["workout.id"],
            name=op.f("fk_completed_session_workout_id_workout"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completed_session")),
        sa.UniqueConstraint("planned_session_id", name=op.f("uq_completed_session_planned_session_id")),
        sa.UniqueConstraint("workout_id", name=op.f("uq_completed_session_workout_id")),
    )
    with op.batch_alter_table("completed_session", schema=None) as batch_op:
        batch_op.create_index("ix_completed_session_athlete_id_date", ["athlete_id", "date"], unique=False)

    op.create_table(
        "session_adjustment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("original", JSON, nullable=False),
        sa.Column("adjusted", JSON, nullable=False),
        sa.Column("diff", JSON, nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("readiness", sa.Float(), nullable=True),
        sa.Column("band", sa.String(length=16), nullable=True),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("algorithm_version", sa.String(length=32), nullable=False),
        sa.Column("basis_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["user_account.id"],
            name=op.f("fk_session_adjustment_athlete_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_session_adjustment_decided_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["planned_session.id"],
            name=op.f("fk_session_adjustment_session_id_planned_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_adjustment")),
        sa.UniqueConstraint("session_id", name=op.f("uq_session_adjustment_session_id")),
    )
    with op.batch_alter_table("session_adjustment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_adjustment_athlete_id"), ["athlete_id"], unique=False)

    op.create_table(
        "adjustment_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adjustment_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_adjustment_decision_actor_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["adjustment_id"],
            ["session_adjustment.id"],
            name=op.f("fk_adjustment_decision_adjustment_id_session_adjustment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustment_decision")),
    )
    with op.batch_alter_table("adjustment_decision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adjustment_decision_adjustment_id"), ["adjustment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("adjustment_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adjustment_decision_adjustment_id"))

    op.drop_table("adjustment_decision")
    with op.batch_alter_table("session_adjustment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_adjustment_athlete_id"))

    op.drop_table("session_adjustment")
    with op.batch_alter_table("completed_session", schema=None) as batch_op:
        batch_op.drop_index("ix_completed_session_athlete_id_date")

    op.drop_table("completed_session")
    with op.batch_alter_table("workout", schema=None) as batch_op:
        batch_op.drop_index("ix_workout_user_id_date")

    op.drop_table("workout")
    with op.batch_alter_table("planned_session", schema=None) as batch_op:
        batch_op.drop_index("ix_planned_session_athlete_id_date")

    op.drop_table("planned_session")
