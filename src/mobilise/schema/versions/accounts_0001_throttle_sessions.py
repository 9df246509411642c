"""sign-in throttling per username and source address; a session epoch per login

Revision ID: accounts_0001
Revises: people_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "accounts_0001"
down_revision = "commit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_throttle")),
    )
    # A plain ADD COLUMN with a default: no table rebuild on SQLite.
    op.add_column("app_user", sa.Column("session_epoch", sa.Integer(), nullable=False,
                                        server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("session_epoch")
    op.drop_table("login_throttle")
