"""history backfill progress on connections; vendor score calibrating flag on hrv_daily

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import perfhub.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL_COLUMNS = (
    ("backfill_status", sa.String(length=16)),
    ("backfill_from", sa.Date()),
    ("backfill_to", sa.Date()),
    ("backfill_days_done", sa.Integer()),
    ("backfill_records", sa.Integer()),
    ("backfill_error", sa.Text()),
    ("backfill_started_at", perfhub.core.db.UTCDateTime(timezone=True)),
    ("backfill_finished_at", perfhub.core.db.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("vendor_connection", schema=None) as batch_op:
        for name, type_ in _BACKFILL_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("hrv_daily", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vendor_calibrating", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hrv_daily", schema=None) as batch_op:
        batch_op.drop_column("vendor_calibrating")
    with op.batch_alter_table("vendor_connection", schema=None) as batch_op:
        for name, _ in reversed(_BACKFILL_COLUMNS):
            batch_op.drop_column(name)
