"""self-service: acceptable-use policy versions and their signatures (one per person,
handset and version), and people's requests to change their reasonable adjustments

Revision ID: selfserve_0001
Revises: after_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'selfserve_0001'
down_revision = 'after_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_version')),
    sa.UniqueConstraint('version', name=op.f('uq_policy_version_version'))
    )
    with op.batch_alter_table('policy_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_version_effective_on'), ['effective_on'], unique=False)

    op.create_table('adjustment_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('recorded', sa.Text(), nullable=True),
    sa.Column('requested', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('settled_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_adjustment_request_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adjustment_request'))
    )
    with op.batch_alter_table('adjustment_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adjustment_request_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_adjustment_request_status'), ['status'], unique=False)

    op.create_table('policy_acceptance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('handset_id', sa.Integer(), nullable=False),
    sa.Column('policy_version_id', sa.Integer(), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('how', sa.String(length=20), nullable=False),
    sa.Column('signed_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['handset_id'], ['handset.id'], name=op.f('fk_policy_acceptance_handset_id_handset')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_policy_acceptance_person_id_person')),
    sa.ForeignKeyConstraint(['policy_version_id'], ['policy_version.id'], name=op.f('fk_policy_acceptance_policy_version_id_policy_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_acceptance')),
    sa.UniqueConstraint('person_id', 'handset_id', 'policy_version_id', name='uq_policy_acceptance_once')
    )
    with op.batch_alter_table('policy_acceptance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_acceptance_handset_id'), ['handset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_acceptance_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_acceptance_policy_version_id'), ['policy_version_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('policy_acceptance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_acceptance_policy_version_id'))
        batch_op.drop_index(batch_op.f('ix_policy_acceptance_person_id'))
        batch_op.drop_index(batch_op.f('ix_policy_acceptance_handset_id'))

    op.drop_table('policy_acceptance')
    with op.batch_alter_table('adjustment_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adjustment_request_status'))
        batch_op.drop_index(batch_op.f('ix_adjustment_request_person_id'))

    op.drop_table('adjustment_request')
    with op.batch_alter_table('policy_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_version_effective_on'))

    op.drop_table('policy_version')
