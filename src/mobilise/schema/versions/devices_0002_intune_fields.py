"""intune fields on the handset register

Revision ID: devices_0002
Revises: migration_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'devices_0002'
down_revision = "migration_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handset') as batch:
        batch.add_column(sa.Column('intune_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('os_version', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('security_patch', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('signed_in_upn', sa.String(length=200), nullable=True))
        batch.create_index(batch.f('ix_handset_intune_id'), ['intune_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handset') as batch:
        batch.drop_index(batch.f('ix_handset_intune_id'))
        for column in ('signed_in_upn', 'security_patch', 'os_version', 'last_sync_at',
                       'intune_id'):
            batch.drop_column(column)
