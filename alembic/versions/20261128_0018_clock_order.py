"""clock order: the scheduler applies a petition's clock steps in the order they were
taken, keeping any that arrive early

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clock_cursor",
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("applied_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_clock_cursor")),
    )
    op.create_table(
        "parked_step",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("parked_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_step")),
        sa.UniqueConstraint("petition_id", "seq", name=op.f("uq_parked_step_petition_id_seq")),
    )
    op.create_index(op.f("ix_parked_step_petition_id"), "parked_step", ["petition_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_parked_step_petition_id"), table_name="parked_step")
    op.drop_table("parked_step")
    op.drop_table("clock_cursor")
