"""SIM bar lifecycle: requested, confirmed by the carrier, and back

Revision ID: devices_0003
Revises: devices_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'devices_0003'
down_revision = "devices_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sim') as batch:
        batch.add_column(sa.Column('bar_state', sa.String(length=16), nullable=False,
                                   server_default='none'))
        batch.add_column(sa.Column('bar_requested_at', sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('bar_reference', sa.String(length=60), nullable=True))
    # SIMs barred before the lifecycle existed are barred in it too.
    op.execute("UPDATE sim SET bar_state = 'barred' WHERE barred")


def downgrade() -> None:
    with op.batch_alter_table('sim') as batch:
        for column in ('bar_reference', 'bar_requested_at', 'bar_state'):
            batch.drop_column(column)
