"""notify delivery: per-notice state and retries, petitioners' contacts, webhook
subscriptions; reports hidden from the accused unit's deadlines

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTICE_COLUMNS = (
    sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("address", sa.String(length=500), nullable=True),
    sa.Column("address_hash", sa.String(length=64), nullable=True),
    sa.Column("next_attempt_at", shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column("lease_until", shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column("sent_at", shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column("provider_id", sa.String(length=100), nullable=True),
    sa.Column("hidden_from", sa.String(length=100), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("deadline") as batch:
        batch.add_column(sa.Column("hidden_from", sa.String(length=100), nullable=True))
    with op.batch_alter_table("notice") as batch:
        for column in NOTICE_COLUMNS:
            batch.add_column(column)
    op.create_index("ix_notice_due", "notice", ["channel", "state", "next_attempt_at"])
    op.create_index(op.f("ix_notice_address_hash"), "notice", ["address_hash"])
    op.create_table(
        "notify_petition",
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("query_code", sa.String(length=20), nullable=False),
        sa.Column("sealed_phones", sa.JSON(), nullable=False),
        sa.Column("openid", sa.String(length=100), nullable=True),
        sa.Column("accused_unit", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_notify_petition")),
    )
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_enc", sa.String(length=300), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )


def downgrade() -> None:
    op.drop_table("webhook_subscription")
    op.drop_table("notify_petition")
    op.drop_index(op.f("ix_notice_address_hash"), table_name="notice")
    op.drop_index("ix_notice_due", table_name="notice")
    with op.batch_alter_table("notice") as batch:
        for column in NOTICE_COLUMNS:
            batch.drop_column(column.name)
    with op.batch_alter_table("deadline") as batch:
        batch.drop_column("hidden_from")
