"""webhook copies of urging stages show their rung (stage), earlier ones backfilled
from the event type they carry as their subject

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# shared.events.DEADLINE_STAGES, as they stood when this was written.
STAGES = ("reminded", "urged", "supervised", "accountability")


def upgrade() -> None:
    notice = sa.table(
        "notice", sa.column("kind", sa.String), sa.column("subject", sa.String), sa.column("stage")
    )
    for stage in STAGES:
        op.execute(
            notice.update()
            .where(
                notice.c.kind == "webhook",
                notice.c.subject == f"cn.xinfang.deadline.{stage}",
                notice.c.stage.is_(None),
            )
            .values(stage=stage)
        )


def downgrade() -> None:
    notice = sa.table("notice", sa.column("kind", sa.String), sa.column("stage"))
    op.execute(notice.update().where(notice.c.kind == "webhook").values(stage=None))
