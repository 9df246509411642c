"""disposal items keep raw path bytes; items skipped at proposal lack a hash

Revision ID: retention_0002
Revises: devices_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'retention_0002'
down_revision = "devices_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('retention_disposal_item') as batch:
        batch.add_column(sa.Column('raw_path', sa.LargeBinary(), nullable=True))
        batch.alter_column('modified', existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    # Items skipped at proposal have no modified time or hash: nothing was read or deleted,
    # so dropping them loses no record of a deletion.
    op.execute("DELETE FROM retention_disposal_item WHERE sha256 IS NULL OR modified IS NULL")
    with op.batch_alter_table('retention_disposal_item') as batch:
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
        batch.alter_column('modified', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_column('raw_path')
