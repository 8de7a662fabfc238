"""a person's sleep need may be unset: NULL means "estimated from your nights"

Readiness 1.1 estimates an athlete's sleep need from their own last 60 nights unless they set one.
Until now every account held 480 minutes, the column's default, whether the athlete chose it or
not. Nobody can tell those apart any more, so every 480 becomes NULL: an athlete who really meant
8 h gets an estimate instead, and can set 8 h again on their profile. Other values were chosen
and stay. The downgrade writes 480 back where the need is unset, as the old release expects.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_DEFAULT_MIN = 480


def _table_kwargs() -> dict[str, bool]:
    # SQLite rebuilds the table to change a column: AUTOINCREMENT (0010) has to be asked for again.
    return {"sqlite_autoincrement": True} if op.get_bind().dialect.name == "sqlite" else {}


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None, table_kwargs=_table_kwargs()) as batch_op:
        batch_op.alter_column("sleep_need_min", existing_type=sa.Integer(), nullable=True)
    op.execute(
        sa.text("UPDATE user_account SET sleep_need_min = NULL WHERE sleep_need_min = :old").bindparams(
            old=OLD_DEFAULT_MIN
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text("UPDATE user_account SET sleep_need_min = :old WHERE sleep_need_min IS NULL").bindparams(
            old=OLD_DEFAULT_MIN
        )
    )
    with op.batch_alter_table("user_account", schema=None, table_kwargs=_table_kwargs()) as batch_op:
        batch_op.alter_column("sleep_need_min", existing_type=sa.Integer(), nullable=False)
