"""rollout: the handset handed over at an appointment

Revision ID: truth_0001
Revises: people_0002

An appointment is attended only through a hand-over in the handset register, which is
recorded on it. The new "attended, not issued" state ("not_issued") fits the existing
status column, so only the link is added.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "truth_0001"
down_revision = "demo_0001"
branch_labels = None
depends_on = None


LIVE_INDEX = "uq_rollout_appointment_live_person"


def _live_index_again() -> None:
    """SQLite rebuilds the table in a batch: make sure the partial unique index on live
    appointments comes back as it was, WHERE clause included."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DROP INDEX IF EXISTS {LIVE_INDEX}")
    op.execute(f"CREATE UNIQUE INDEX {LIVE_INDEX} ON rollout_appointment (person_id) "
               "WHERE status IN ('booked', 'confirmed')")


def upgrade() -> None:
    with op.batch_alter_table("rollout_appointment") as batch:
        batch.add_column(sa.Column("handset_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_rollout_appointment_handset_id_handset", "handset",
                                 ["handset_id"], ["id"])
        batch.create_index("ix_rollout_appointment_handset_id", ["handset_id"], unique=False)
    _live_index_again()


def downgrade() -> None:
    with op.batch_alter_table("rollout_appointment") as batch:
        batch.drop_index("ix_rollout_appointment_handset_id")
        batch.drop_constraint("fk_rollout_appointment_handset_id_handset", type_="foreignkey")
        batch.drop_column("handset_id")
    _live_index_again()
