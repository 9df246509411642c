"""laptops' offline copies: the endpoint inventory, and the cutover's offline-sync gate
override per person

Revision ID: endpoints_0001
Revises: cutover_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "endpoints_0001"
down_revision = "cutover_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("primary_user", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("last_sync", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cache_bytes", sa.BigInteger(), nullable=True),
        sa.Column("pending_items", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_file", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoint")),
        sa.UniqueConstraint("device", name=op.f("uq_endpoint_device")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"],
                                name=op.f("fk_endpoint_person_id_person")),
    )
    op.create_index(op.f("ix_endpoint_person_id"), "endpoint", ["person_id"])
    with op.batch_alter_table("migration_person") as batch:
        batch.add_column(sa.Column("offline_override", sa.Text(), nullable=True))
        batch.add_column(sa.Column("offline_override_by", sa.String(length=100),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("migration_person") as batch:
        batch.drop_column("offline_override_by")
        batch.drop_column("offline_override")
    op.drop_index("ix_endpoint_person_id", table_name="endpoint")
    op.drop_table("endpoint")
