"""urging ladders as configuration: a county's own ladders, named by its time limits

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "urging_ladder",
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("loaded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_urging_ladder")),
    )


def downgrade() -> None:
    op.drop_table("urging_ladder")
