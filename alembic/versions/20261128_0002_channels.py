"""channels

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:50:49.616550
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('external_ticket',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_system', sa.String(length=100), nullable=False),
    sa.Column('external_ref', sa.String(length=100), nullable=False),
    sa.Column('petition_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['petition_id'], ['petition.id'], name=op.f('fk_external_ticket_petition_id_petition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_ticket')),
    sa.UniqueConstraint('source_system', 'external_ref', name=op.f('uq_external_ticket_source_system_external_ref'))
    )
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_data', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('registered_by', sa.String(length=150), nullable=True))
        batch_op.add_column(sa.Column('repeat_of', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_petition_repeat_of'), ['repeat_of'], unique=False)

    with op.batch_alter_table('petition_person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=20), nullable=False, server_default='petitioner'))



def downgrade() -> None:
    with op.batch_alter_table('petition_person', schema=None) as batch_op:
        batch_op.drop_column('role')

    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_petition_repeat_of'))
        batch_op.drop_column('repeat_of')
        batch_op.drop_column('registered_by')
        batch_op.drop_column('channel_data')

    op.drop_table('external_ticket')
