"""the reporting read model: petitions, clocks and returns as the measures count them

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str) -> sa.Column:
    return sa.Column(name, shared.db.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "report_petition",
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        _at("received_at"),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("division_code", sa.String(length=12), nullable=False),
        sa.Column("people_count", sa.Integer(), nullable=False),
        sa.Column("repeat_of", sa.String(length=36), nullable=True),
        _at("repeated_at"),
        sa.Column("routing_round", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("lead_unit", sa.String(length=100), nullable=True),
        sa.Column("lead_level", sa.String(length=20), nullable=False),
        sa.Column("collective", sa.Boolean(), nullable=False),
        sa.Column("skip_level", sa.Boolean(), nullable=False),
        _at("replied_at"),
        sa.Column("replied_on", sa.Date(), nullable=True),
        sa.Column("rating", sa.String(length=30), nullable=True),
        sa.Column("evaluated_on", sa.Date(), nullable=True),
        _at("review_requested_at"),
        sa.Column("reviewed_on", sa.Date(), nullable=True),
        _at("re_examination_requested_at"),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_report_petition")),
    )
    for column in ("received_on", "lead_unit", "replied_on", "evaluated_on", "reviewed_on"):
        op.create_index(op.f(f"ix_report_petition_{column}"), "report_petition", [column])
    op.create_table(
        "report_deadline",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=30), nullable=False),
        sa.Column("base_step", sa.String(length=30), nullable=False),
        sa.Column("unit_id", sa.String(length=100), nullable=True),
        sa.Column("due_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        _at("opened_at"),
        _at("met_at"),
        sa.Column("late", sa.Boolean(), nullable=False),
        _at("reminded_at"),
        _at("urged_at"),
        _at("supervised_at"),
        _at("accountability_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_deadline")),
        sa.UniqueConstraint(
            "petition_id", "step", name=op.f("uq_report_deadline_petition_id_step")
        ),
    )
    op.create_index(op.f("ix_report_deadline_petition_id"), "report_deadline", ["petition_id"])
    op.create_index(op.f("ix_report_deadline_due_on"), "report_deadline", ["due_on"])
    op.create_table(
        "report_step",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("petition_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_step")),
        sa.UniqueConstraint("event_id", name=op.f("uq_report_step_event_id")),
    )
    op.create_index(op.f("ix_report_step_petition_id"), "report_step", ["petition_id"])
    op.create_index("ix_report_step_kind_on", "report_step", ["kind", "on"])


def downgrade() -> None:
    op.drop_table("report_step")
    op.drop_table("report_deadline")
    op.drop_table("report_petition")
