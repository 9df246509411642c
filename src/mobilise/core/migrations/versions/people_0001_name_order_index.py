"""people in name order: an index for the register's listing and search pages

Revision ID: people_0001
Revises: devices_0002
"""
from __future__ import annotations

from alembic import op

revision = "people_0001"
down_revision = "retention_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_person_name_order", "person", ["last_name", "first_name", "number"])


def downgrade() -> None:
    op.drop_index("ix_person_name_order", table_name="person")
