"""review items are routed: assigned to a reviewer with a deadline, escalated when it
lapses; a person may name their line manager

Revision ID: review_0001
Revises: endpoints_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "review_0001"
down_revision = "endpoints_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("retention_review_item") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalated_to", sa.String(length=100), nullable=True))
        batch.create_index("ix_retention_review_item_assigned_to", ["assigned_to"])
        batch.create_index("ix_retention_review_item_due_on", ["due_on"])
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("line_manager", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.drop_column("line_manager")
    with op.batch_alter_table("retention_review_item") as batch:
        batch.drop_index("ix_retention_review_item_due_on")
        batch.drop_index("ix_retention_review_item_assigned_to")
        batch.drop_column("escalated_to")
        batch.drop_column("escalated_at")
        batch.drop_column("due_on")
        batch.drop_column("queued_at")
        batch.drop_column("assigned_to")
