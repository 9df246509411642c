"""drives: one row per drive scan with its readiness summary

Revision ID: drives_0001
Revises: devices_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'drives_0001'
down_revision = "devices_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('drive_scan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('scan_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('root', sa.String(length=1000), nullable=False),
    sa.Column('inventory', sa.String(length=1000), nullable=True),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('files', sa.BigInteger(), nullable=False),
    sa.Column('folders', sa.BigInteger(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('to_rename', sa.Integer(), nullable=False),
    sa.Column('cannot_move', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.Integer(), nullable=False),
    sa.Column('fits_quota', sa.Boolean(), nullable=False),
    sa.Column('issues', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'],
                            name=op.f('fk_drive_scan_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drive_scan')),
    sa.UniqueConstraint('scan_id', name=op.f('uq_drive_scan_scan_id'))
    )
    with op.batch_alter_table('drive_scan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drive_scan_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_drive_scan_scanned_at'), ['scanned_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('drive_scan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drive_scan_scanned_at'))
        batch_op.drop_index(batch_op.f('ix_drive_scan_person_id'))
    op.drop_table('drive_scan')
