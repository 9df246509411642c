"""finance: decisions, envelopes, spend lines, handset purchase batches

Revision ID: finance_0001
Revises: 0001_foundation
Create Date: 2026-11-22 02:37:36.963445
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'finance_0001'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('finance_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('approver', sa.String(length=200), nullable=False),
    sa.Column('programme', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_decision')),
    sa.UniqueConstraint('reference', name=op.f('uq_finance_decision_reference'))
    )
    op.create_table('finance_handset_purchase',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('purchased_on', sa.Date(), nullable=False),
    sa.Column('handsets', sa.Integer(), nullable=False),
    sa.Column('unit_cost_pence', sa.BigInteger(), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_handset_purchase')),
    sa.UniqueConstraint('reference', name=op.f('uq_finance_handset_purchase_reference'))
    )
    op.create_table('finance_envelope',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('budget', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['finance_decision.id'], name=op.f('fk_finance_envelope_decision_id_finance_decision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_envelope')),
    sa.UniqueConstraint('decision_id', 'year', 'budget', 'purpose', name=op.f('uq_finance_envelope_decision_id'))
    )
    with op.batch_alter_table('finance_envelope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_envelope_decision_id'), ['decision_id'], unique=False)

    op.create_table('finance_spend',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('dated', sa.Date(), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('budget', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.Column('order_reference', sa.String(length=60), nullable=True),
    sa.Column('approval', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['finance_decision.id'], name=op.f('fk_finance_spend_decision_id_finance_decision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_spend')),
    sa.UniqueConstraint('kind', 'reference', name=op.f('uq_finance_spend_kind'))
    )
    with op.batch_alter_table('finance_spend', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_spend_decision_id'), ['decision_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_spend_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_spend_order_reference'), ['order_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_spend_year'), ['year'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('finance_spend', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_spend_year'))
        batch_op.drop_index(batch_op.f('ix_finance_spend_order_reference'))
        batch_op.drop_index(batch_op.f('ix_finance_spend_kind'))
        batch_op.drop_index(batch_op.f('ix_finance_spend_decision_id'))

    op.drop_table('finance_spend')
    with op.batch_alter_table('finance_envelope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_envelope_decision_id'))

    op.drop_table('finance_envelope')
    op.drop_table('finance_handset_purchase')
    op.drop_table('finance_decision')
