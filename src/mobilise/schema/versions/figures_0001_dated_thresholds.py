"""approval thresholds by the date they take effect (the PCR threshold is revised every
two years; each commitment is held to the one in force on its date); the funding sources
each decision names; open-ended envelopes (an amount every year from a year, no end)

Revision ID: figures_0001
Revises: review_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "figures_0001"
down_revision = "review_0001"
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
    op.create_table(
        "finance_funding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("amount_pence", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["finance_decision.id"],
                                name=op.f("fk_finance_funding_decision_id_finance_decision")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_funding")),
        sa.UniqueConstraint("decision_id", "kind", name=op.f("uq_finance_funding_decision_id")),
    )
    op.create_index(op.f("ix_finance_funding_decision_id"), "finance_funding", ["decision_id"])
    with op.batch_alter_table("finance_envelope") as batch:
        batch.add_column(sa.Column("open_ended", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("finance_envelope") as batch:
        batch.drop_column("open_ended")
    op.drop_index(op.f("ix_finance_funding_decision_id"), table_name="finance_funding")
    op.drop_table("finance_funding")
    op.drop_table("finance_threshold")
