"""casework steps: county time limits, leaders in charge, case parties, finalized matters

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "time_limit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("step", sa.String(length=30), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("ladder", sa.String(length=30), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("loaded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_limit")),
        sa.UniqueConstraint("step", "level", name=op.f("uq_time_limit_step_level")),
    )
    op.create_table(
        "petition_leader",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petition_leader")),
        sa.UniqueConstraint("petition_id", "unit_id", name=op.f("uq_petition_leader_petition_id_unit_id")),
    )
    op.create_index(
        op.f("ix_petition_leader_petition_id"), "petition_leader", ["petition_id"], unique=False
    )
    op.create_table(
        "case_party",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=100), nullable=False),
        sa.Column("part", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_party")),
        sa.UniqueConstraint(
            "petition_id", "unit_id", "part", name=op.f("uq_case_party_petition_id_unit_id_part")
        ),
    )
    op.create_index(op.f("ix_case_party_petition_id"), "case_party", ["petition_id"], unique=False)
    op.create_index(op.f("ix_case_party_unit_id"), "case_party", ["unit_id"], unique=False)
    op.execute(
        "INSERT INTO case_party (petition_id, unit_id, part) "
        "SELECT petition_id, lead_unit, 'lead' FROM case_view WHERE lead_unit IS NOT NULL"
    )
    op.create_table(
        "finalized_matter",
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("finalized_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_finalized_matter")),
    )


def downgrade() -> None:
    op.drop_table("finalized_matter")
    op.drop_index(op.f("ix_case_party_unit_id"), table_name="case_party")
    op.drop_index(op.f("ix_case_party_petition_id"), table_name="case_party")
    op.drop_table("case_party")
    op.drop_index(op.f("ix_petition_leader_petition_id"), table_name="petition_leader")
    op.drop_table("petition_leader")
    op.drop_table("time_limit")
