"""the H: drive after cutover: each migrated person's drive lifecycle (grace, read-only,
archived, released), its due date, hook failures, sign-off, disposal batch and Known
Folder Move group membership

Revision ID: after_0001
Revises: oidc_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "after_0001"
down_revision = "oidc_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "migration_drive_after",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("migration_id", sa.Integer(), sa.ForeignKey("migration_person.id"),
                  nullable=False, unique=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hook_error", sa.Text(), nullable=True),
        sa.Column("hook_attempts", sa.Integer(), nullable=False),
        sa.Column("late_files", sa.Integer(), nullable=False),
        sa.Column("signed_off_by", sa.String(length=200), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_off_note", sa.Text(), nullable=True),
        sa.Column("disposal_batch_id", sa.Integer(),
                  sa.ForeignKey("retention_disposal_batch.id"), nullable=True),
        sa.Column("released_bytes", sa.BigInteger(), nullable=False),
        sa.Column("kfm_added_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_migration_drive_after_state", "migration_drive_after", ["state"])


def downgrade() -> None:
    op.drop_index("ix_migration_drive_after_state", table_name="migration_drive_after")
    op.drop_table("migration_drive_after")
