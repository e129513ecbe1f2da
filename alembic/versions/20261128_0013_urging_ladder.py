"""the urging ladder: next stage per deadline, stages issued

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 06:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "next_stage_at IS NOT NULL AND state NOT IN ('met', 'paused')"


def upgrade() -> None:
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_stage_at", shared.db.UTCDateTime(timezone=True), nullable=True))
    # Open deadlines are looked at by the next sweep, which works out their stages.
    op.execute("UPDATE deadline SET next_stage_at = started_at WHERE state NOT IN ('met', 'paused')")
    op.create_index(
        "ix_deadline_next_stage",
        "deadline",
        ["next_stage_at"],
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )
    op.create_table(
        "deadline_stage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deadline_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("issued_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_stage")),
        sa.UniqueConstraint("deadline_id", "stage", name=op.f("uq_deadline_stage_deadline_id_stage")),
    )


def downgrade() -> None:
    op.drop_table("deadline_stage")
    op.drop_index("ix_deadline_next_stage", table_name="deadline")
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.drop_column("next_stage_at")
