"""team membership spans: when each athlete was in each team, kept after they leave

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import perfhub.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_membership_span",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_team_membership_span_team_id_team"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["user_account.id"],
            name=op.f("fk_team_membership_span_athlete_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_membership_span")),
    )
    op.create_index(
        op.f("ix_team_membership_span_team_id"), "team_membership_span", ["team_id"], unique=False
    )
    op.create_index(
        op.f("ix_team_membership_span_athlete_id"), "team_membership_span", ["athlete_id"], unique=False
    )
    # Today's members have been in since they joined; who left before now is not known.
    op.execute(
        "INSERT INTO team_membership_span (team_id, athlete_id, joined_at) "
        "SELECT team_id, athlete_id, joined_at FROM team_membership"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_team_membership_span_athlete_id"), table_name="team_membership_span")
    op.drop_index(op.f("ix_team_membership_span_team_id"), table_name="team_membership_span")
    op.drop_table("team_membership_span")
