"""a migration round keeps why it failed (or was planned again), for the wave page

Revision ID: demo_0001
Revises: people_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "demo_0001"
down_revision = "accounts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("migration_round") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("migration_round") as batch:
        batch.drop_column("reason")
