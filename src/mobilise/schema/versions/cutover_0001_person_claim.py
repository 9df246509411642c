"""a cutover run holds the people it cuts over (claim and lease), so two cutovers of the
same people at once have one winner

Revision ID: cutover_0001
Revises: truth_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cutover_0001"
down_revision = "truth_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("migration_person") as batch:
        batch.add_column(sa.Column("cutover_claim", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("cutover_claimed_until", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("migration_person") as batch:
        batch.drop_column("cutover_claimed_until")
        batch.drop_column("cutover_claim")
