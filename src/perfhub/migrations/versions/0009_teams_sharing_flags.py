"""teams with several coaches and invitations; readiness flags stored; the access log survives
an erasure (its subject is no longer a foreign key) and records erasures

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import perfhub.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "team_coach",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("added_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_team_coach_team_id_team"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["user_account.id"],
            name=op.f("fk_team_coach_coach_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_coach")),
        sa.UniqueConstraint("team_id", "coach_id", name=op.f("uq_team_coach_team_id_coach_id")),
    )
    op.create_index(op.f("ix_team_coach_coach_id"), "team_coach", ["coach_id"])
    op.execute(
        sa.text(
            "INSERT INTO team_coach (team_id, coach_id, added_at) SELECT id, coach_id, created_at FROM team"
        )
    )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_coach_id"))
        batch_op.drop_constraint(batch_op.f("fk_team_coach_id_user_account"), type_="foreignkey")
        batch_op.drop_column("coach_id")

    op.create_table(
        "team_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_team_invitation_team_id_team"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["user_account.id"],
            name=op.f("fk_team_invitation_invited_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_invitation")),
    )
    op.create_index(op.f("ix_team_invitation_team_id"), "team_invitation", ["team_id"])
    op.create_index(op.f("ix_team_invitation_email"), "team_invitation", ["email"])

    with op.batch_alter_table("readiness_snapshot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", JSON, server_default=sa.text("'[]'"), nullable=False))

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_audit_log_subject_id_user_account"), type_="foreignkey")
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="read", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("kind")
    op.execute(sa.text("DELETE FROM audit_log WHERE subject_id NOT IN (SELECT id FROM user_account)"))
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_log_subject_id_user_account"),
            "user_account",
            ["subject_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("readiness_snapshot", schema=None) as batch_op:
        batch_op.drop_column("flags")
    op.drop_table("team_invitation")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coach_id", sa.Integer(), nullable=True))
    # A team keeps its first coach; teams left without one are removed, as 0001 could not hold them.
    op.execute(
        sa.text(
            "UPDATE team SET coach_id = "
            "(SELECT min(coach_id) FROM team_coach WHERE team_coach.team_id = team.id)"
        )
    )
    op.execute(sa.text("DELETE FROM team WHERE coach_id IS NULL"))
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.alter_column("coach_id", nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_team_coach_id_user_account"),
            "user_account",
            ["coach_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_team_coach_id"), ["coach_id"])
    op.drop_table("team_coach")
