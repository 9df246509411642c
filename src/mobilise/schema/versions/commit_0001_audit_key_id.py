"""audit entries record the audit key that keyed their hash

Revision ID: commit_0001
Revises: people_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "commit_0001"
down_revision = "people_0002"
branch_labels = None
depends_on = None


# Entries written before an audit key was configured keep an empty key_id: their hashes
# stay plain SHA-256, protected from then on by the checkpoint an operator takes (see
# docs/security.md, "The audit log").
def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
