"""approval thresholds by the date they take effect (the PCR threshold is revised every
two years; each commitment is held to the one in force on its date)

Revision ID: figures_0001
Revises: cutover_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "figures_0001"
down_revision = "cutover_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finance_threshold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_threshold")),
        sa.UniqueConstraint("rule", "effective_from", name=op.f("uq_finance_threshold_rule")),
    )


def downgrade() -> None:
    op.drop_table("finance_threshold")
