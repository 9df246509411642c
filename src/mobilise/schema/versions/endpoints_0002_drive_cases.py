"""leavers' and orphan drives: their own queue, the rule set's proposal and the decision

Revision ID: endpoints_0002
Revises: endpoints_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "endpoints_0002"
down_revision = "endpoints_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_drive_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("home", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed", sa.String(length=10), nullable=False),
        sa.Column("proposed_rule", sa.String(length=64), nullable=True),
        sa.Column("proposed_why", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_drive_case")),
        sa.UniqueConstraint("home", name=op.f("uq_retention_drive_case_home")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"],
                                name=op.f("fk_retention_drive_case_person_id_person")),
    )
    op.create_index(op.f("ix_retention_drive_case_kind"), "retention_drive_case", ["kind"])
    op.create_index(op.f("ix_retention_drive_case_person_id"), "retention_drive_case",
                    ["person_id"])
    op.create_index(op.f("ix_retention_drive_case_outcome"), "retention_drive_case",
                    ["outcome"])


def downgrade() -> None:
    op.drop_index(op.f("ix_retention_drive_case_outcome"), table_name="retention_drive_case")
    op.drop_index(op.f("ix_retention_drive_case_person_id"), table_name="retention_drive_case")
    op.drop_index(op.f("ix_retention_drive_case_kind"), table_name="retention_drive_case")
    op.drop_table("retention_drive_case")
