"""weekly insights: one row per athlete and ISO week, kept as history

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import perfhub.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "weekly_insight",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("figures", JSON, nullable=False),
        sa.Column("sentences", JSON, nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column("computed_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_weekly_insight_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_insight")),
        sa.UniqueConstraint("user_id", "week", name=op.f("uq_weekly_insight_user_id_week")),
    )


def downgrade() -> None:
    op.drop_table("weekly_insight")
