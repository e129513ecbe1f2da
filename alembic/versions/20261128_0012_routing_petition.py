"""routing keeps the petition it decided on, to route a returned one again

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 05:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routing_decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("petition", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("routing_decision", schema=None) as batch_op:
        batch_op.drop_column("petition")
