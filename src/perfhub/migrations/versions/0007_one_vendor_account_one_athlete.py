"""one vendor account, one athlete; link flows bound to the browser that started them;
why a connection was revoked; a backfill's rate-limit wait kept across restarts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import perfhub.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('linked', 'needs_relink')"

_STATE_COLUMNS = (
    ("browser_hash", sa.String(length=64)),
    ("returned_at", perfhub.core.db.UTCDateTime(timezone=True)),
    ("held_code", sa.Text()),
    ("completion_hash", sa.String(length=64)),
    ("held_tokens", sa.Text()),
    ("held_vendor_user_id", sa.String(length=200)),
)
_CONNECTION_COLUMNS = (
    ("status_reason", sa.String(length=32)),
    ("revoked_at", perfhub.core.db.UTCDateTime(timezone=True)),
    ("backfill_resume_at", perfhub.core.db.UTCDateTime(timezone=True)),
)

# Before the index can exist, a vendor account live on several athletes (which the old link
# flow allowed) keeps only its latest link: the latest consent at the vendor is the best
# evidence of whose account it is. The others are revoked as a later move would revoke them
# (tokens forgotten, backfill stopped, reason "moved"), so their athletes see why.
_KEEP_LATEST_LINK_ONLY = f"""
UPDATE vendor_connection
SET status = 'revoked',
    status_reason = 'moved',
    revoked_at = CURRENT_TIMESTAMP,
    access_token = NULL,
    refresh_token = NULL,
    expires_at = NULL,
    backfill_error = CASE WHEN backfill_status IN ('queued', 'running')
        THEN 'stopped: the account was linked to another athlete' ELSE backfill_error END,
    backfill_finished_at = CASE WHEN backfill_status IN ('queued', 'running')
        THEN CURRENT_TIMESTAMP ELSE backfill_finished_at END,
    backfill_status = CASE WHEN backfill_status IN ('queued', 'running')
        THEN 'failed' ELSE backfill_status END
WHERE {LIVE}
  AND vendor_user_id IS NOT NULL
  AND EXISTS (
    SELECT 1 FROM vendor_connection AS later
    WHERE later.vendor = vendor_connection.vendor
      AND later.vendor_user_id = vendor_connection.vendor_user_id
      AND later.status IN ('linked', 'needs_relink')
      AND later.id <> vendor_connection.id
      AND (
        (later.linked_at IS NOT NULL AND vendor_connection.linked_at IS NULL)
        OR later.linked_at > vendor_connection.linked_at
        OR ((later.linked_at = vendor_connection.linked_at
             OR (later.linked_at IS NULL AND vendor_connection.linked_at IS NULL))
            AND later.id > vendor_connection.id)
      )
  )
"""


def upgrade() -> None:
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        for name, type_ in _STATE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.add_column(
            sa.Column("move_existing", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("vendor_connection", schema=None) as batch_op:
        for name, type_ in _CONNECTION_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.execute(sa.text(_KEEP_LATEST_LINK_ONLY))
    with op.batch_alter_table("vendor_connection", schema=None) as batch_op:
        batch_op.create_index(
            "uq_vendor_connection_live_account",
            ["vendor", "vendor_user_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )


def downgrade() -> None:
    # The connections revoked by the upgrade stay revoked: their tokens are gone.
    with op.batch_alter_table("vendor_connection", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_vendor_connection_live_account",
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        for name, _ in reversed(_CONNECTION_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.drop_column("move_existing")
        for name, _ in reversed(_STATE_COLUMNS):
            batch_op.drop_column(name)
