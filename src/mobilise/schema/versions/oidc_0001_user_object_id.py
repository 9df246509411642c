"""a login signed in through Microsoft Entra ID carries the user's object id (oid), unique:
of two first sign-ins of one person at once, one creates the login

Revision ID: oidc_0001
Revises: figures_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "oidc_0001"
down_revision = "figures_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("oid", sa.String(length=36), nullable=True))
        batch.create_unique_constraint(batch.f("uq_app_user_oid"), ["oid"])
        batch.create_index(batch.f("ix_app_user_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_index(batch.f("ix_app_user_person_id"))
        batch.drop_constraint(batch.f("uq_app_user_oid"), type_="unique")
        batch.drop_column("oid")
