"""retention: rule set versions, holds, review items, disposal batches and items

Revision ID: retention_0001
Revises: drives_0001
Create Date: 2026-11-22 02:47:42.976536
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'retention_0001'
down_revision = "drives_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('retention_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('people', sa.JSON(), nullable=False),
    sa.Column('folders', sa.JSON(), nullable=False),
    sa.Column('selector_yaml', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('placed_by', sa.String(length=200), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.String(length=200), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_hold')),
    sa.UniqueConstraint('reference', name=op.f('uq_retention_hold_reference'))
    )
    with op.batch_alter_table('retention_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_hold_status'), ['status'], unique=False)

    op.create_table('retention_rule_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('yaml', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_by', sa.String(length=200), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rule_set')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_retention_rule_set_name'))
    )
    with op.batch_alter_table('retention_rule_set', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_rule_set_name'), ['name'], unique=False)

    op.create_table('retention_disposal_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_set_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('method', sa.String(length=200), nullable=False),
    sa.Column('proposed_by', sa.String(length=200), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('executed_by', sa.String(length=200), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_files', sa.Integer(), nullable=False),
    sa.Column('deleted_bytes', sa.BigInteger(), nullable=False),
    sa.Column('skipped_files', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rule_set_id'], ['retention_rule_set.id'], name=op.f('fk_retention_disposal_batch_rule_set_id_retention_rule_set')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_disposal_batch'))
    )
    with op.batch_alter_table('retention_disposal_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_disposal_batch_status'), ['status'], unique=False)

    op.create_table('retention_review_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_set_id', sa.Integer(), nullable=False),
    sa.Column('person', sa.String(length=100), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('eligible_since', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('justification', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rule_set_id'], ['retention_rule_set.id'], name=op.f('fk_retention_review_item_rule_set_id_retention_rule_set')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_review_item'))
    )
    with op.batch_alter_table('retention_review_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_review_item_person'), ['person'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_review_item_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_review_item_rule_set_id'), ['rule_set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_review_item_status'), ['status'], unique=False)

    op.create_table('retention_disposal_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('person', sa.String(length=100), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('authority', sa.Text(), nullable=False),
    sa.Column('eligible_since', sa.Date(), nullable=True),
    sa.Column('review_item_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('skip_reason', sa.Text(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['retention_disposal_batch.id'], name=op.f('fk_retention_disposal_item_batch_id_retention_disposal_batch')),
    sa.ForeignKeyConstraint(['review_item_id'], ['retention_review_item.id'], name=op.f('fk_retention_disposal_item_review_item_id_retention_review_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_disposal_item'))
    )
    with op.batch_alter_table('retention_disposal_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_disposal_item_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_disposal_item_person'), ['person'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('retention_disposal_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_disposal_item_person'))
        batch_op.drop_index(batch_op.f('ix_retention_disposal_item_batch_id'))

    op.drop_table('retention_disposal_item')
    with op.batch_alter_table('retention_review_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_review_item_status'))
        batch_op.drop_index(batch_op.f('ix_retention_review_item_rule_set_id'))
        batch_op.drop_index(batch_op.f('ix_retention_review_item_rule'))
        batch_op.drop_index(batch_op.f('ix_retention_review_item_person'))

    op.drop_table('retention_review_item')
    with op.batch_alter_table('retention_disposal_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_disposal_batch_status'))

    op.drop_table('retention_disposal_batch')
    with op.batch_alter_table('retention_rule_set', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_rule_set_name'))

    op.drop_table('retention_rule_set')
    with op.batch_alter_table('retention_hold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_hold_status'))

    op.drop_table('retention_hold')
