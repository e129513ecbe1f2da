"""petitioner tracking: phone hashes, reply dates, petitioner requests

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-28 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_view", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phone_hashes", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("replied_at", shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("review_opinion_at", shared.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "petitioner_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petitioner_request")),
        sa.UniqueConstraint("petition_id", "kind", name=op.f("uq_petitioner_request_petition_id_kind")),
    )
    with op.batch_alter_table("petitioner_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_petitioner_request_petition_id"), ["petition_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("petitioner_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_petitioner_request_petition_id"))
    op.drop_table("petitioner_request")
    with op.batch_alter_table("case_view", schema=None) as batch_op:
        batch_op.drop_column("review_opinion_at")
        batch_op.drop_column("replied_at")
        batch_op.drop_column("phone_hashes")
