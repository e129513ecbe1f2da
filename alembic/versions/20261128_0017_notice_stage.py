"""notice stage: which rung of the urging ladder a notice is (API.md: notices show
recipient, channel, stage and delivery state); earlier urging notices get theirs
from their subject

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The stage titles of deadline_scheduler.ladder, as urging subjects begin.
TITLES = {
    "reminded": "提醒（黄色）",
    "urged": "催办（橙色）",
    "supervised": "督办（红色）",
    "accountability": "追责问责建议",
}


def upgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=30), nullable=True))
    notice = sa.table(
        "notice", sa.column("kind", sa.String), sa.column("subject", sa.String), sa.column("stage")
    )
    for stage, title in TITLES.items():
        op.execute(
            notice.update()
            .where(notice.c.kind == "urging", notice.c.subject.startswith(title))
            .values(stage=stage)
        )


def downgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.drop_column("stage")
