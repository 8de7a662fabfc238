"""api token life cycle: expiry, revocation time, rotation successor

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import perfhub.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("lifetime_days", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("revoked_at", perfhub.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_token_replaced_by_id_api_token"),
            "api_token",
            ["replaced_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Nothing could revoke a token before this revision; should a row say so all the same, its
    # time is unknown and the upgrade is the latest it can have happened.
    op.execute(
        sa.text("UPDATE api_token SET revoked_at = CURRENT_TIMESTAMP WHERE revoked AND revoked_at IS NULL")
    )


def downgrade() -> None:
    # The flag is kept in step by the new release, so revoked tokens stay refused after this.
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_token_replaced_by_id_api_token"), type_="foreignkey")
        batch_op.drop_column("replaced_by_id")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("lifetime_days")
        batch_op.drop_column("expires_at")
