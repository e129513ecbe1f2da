"""attachments in storage; the intake knows the handling units

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("petition_attachment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("storage_key", sa.String(length=64), nullable=False, server_default="")
        )
    # Move existing bytes into the attachment storage before the column goes.
    from shared.config import load_settings
    from shared.storage import LocalStorage

    storage = LocalStorage(load_settings().var_dir / "attachments")
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, data FROM petition_attachment")).all()
    for row_id, data in rows:
        key = storage.put(bytes(data))
        conn.execute(
            sa.text("UPDATE petition_attachment SET storage_key = :key WHERE id = :id"),
            {"key": key, "id": row_id},
        )
    with op.batch_alter_table("petition_attachment", schema=None) as batch_op:
        batch_op.drop_column("data")
    with op.batch_alter_table("petition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_unit", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("assisting_units", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("petition", schema=None) as batch_op:
        batch_op.drop_column("assisting_units")
        batch_op.drop_column("lead_unit")
    with op.batch_alter_table("petition_attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=False, server_default=""))
        batch_op.drop_column("storage_key")
