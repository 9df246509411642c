"""comms: versioned templates and the outbox

Revision ID: comms_0001
Revises: rollout_0001
Create Date: 2026-11-22 02:39:46.398359
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'comms_0001'
down_revision = 'rollout_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('comms_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comms_template')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_comms_template_name'))
    )
    with op.batch_alter_table('comms_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comms_template_name'), ['name'], unique=False)

    op.create_table('comms_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attachment_name', sa.String(length=100), nullable=True),
    sa.Column('attachment', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_comms_outbox_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comms_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_comms_outbox_idempotency_key'))
    )
    with op.batch_alter_table('comms_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comms_outbox_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comms_outbox_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_comms_outbox_template'), ['template'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('comms_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comms_outbox_template'))
        batch_op.drop_index(batch_op.f('ix_comms_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_comms_outbox_person_id'))

    op.drop_table('comms_outbox')
    with op.batch_alter_table('comms_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comms_template_name'))

    op.drop_table('comms_template')
    # ### end Alembic commands ###
