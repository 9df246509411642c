"""people in name order, and found by any part of a name, UPN or number

Revision ID: people_0001
Revises: retention_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "people_0001"
down_revision = "retention_0002"
branch_labels = None
depends_on = None

# Searched with ILIKE '%...%' on PostgreSQL (core.people.register): trigram indexes answer
# that without reading every row. SQLite has none; it scans quickly enough.
TRIGRAM = {
    "ix_person_name_trgm": "(first_name || ' ' || last_name)",
    "ix_person_upn_trgm": "upn",
    "ix_person_number_trgm": "number",
}


def upgrade() -> None:
    op.create_index("ix_person_name_order", "person", ["last_name", "first_name", "number"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # pg_trgm is a trusted extension, but may be missing
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return  # search still works, reading every row
    for name, expression in TRIGRAM.items():
        bind.execute(sa.text(
            f"CREATE INDEX {name} ON person USING gin ({expression} gin_trgm_ops)"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_person_name_order", table_name="person")
