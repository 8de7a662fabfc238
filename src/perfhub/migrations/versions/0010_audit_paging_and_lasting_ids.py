"""the access log is paged by subject or actor, newest first; SQLite never reuses a person's id

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject_id"))
        batch_op.create_index("ix_audit_log_subject_id_id", ["subject_id", "id"])
        batch_op.create_index("ix_audit_log_actor_id_id", ["actor_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        # AUTOINCREMENT can only be given by rebuilding the table (foreign keys are off while
        # migrations run, so its children stay). PostgreSQL sequences never hand an id out twice.
        with op.batch_alter_table(
            "user_account", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "user_account", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_actor_id_id")
        batch_op.drop_index("ix_audit_log_subject_id_id")
        batch_op.create_index(batch_op.f("ix_audit_log_subject_id"), ["subject_id"])
