"""routing ruleset versions and their audit trail

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 05:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ruleset_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("jurisdiction", sa.String(length=12), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=12), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("golden_report", sa.JSON(), nullable=True),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("activated_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruleset_version")),
        sa.UniqueConstraint(
            "jurisdiction", "version", "digest", name=op.f("uq_ruleset_version_jurisdiction_version_digest")
        ),
    )
    op.create_index(
        "uq_ruleset_version_active",
        "ruleset_version",
        ["jurisdiction"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
        sqlite_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "ruleset_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ruleset_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=12), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruleset_audit")),
    )
    op.create_index(op.f("ix_ruleset_audit_ruleset_id"), "ruleset_audit", ["ruleset_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ruleset_audit_ruleset_id"), table_name="ruleset_audit")
    op.drop_table("ruleset_audit")
    op.drop_index("uq_ruleset_version_active", table_name="ruleset_version")
    op.drop_table("ruleset_version")
