"""audit log of full personal data reads

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 05:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "personal_data_read",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("reader", sa.String(length=150), nullable=False),
        sa.Column("fields", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_read")),
    )
    with op.batch_alter_table("personal_data_read", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_personal_data_read_petition_id"), ["petition_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("personal_data_read", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_data_read_petition_id"))
    op.drop_table("personal_data_read")
