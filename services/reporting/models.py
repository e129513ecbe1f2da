"""The reporting read model: what the measures are counted from, kept current from
the events (`handlers`), rebuilt from the stored events (`xinfang reporting rebuild`).
Never the petition tables of other services."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class ReportPetition(Base):
    """One petition, as the measures see it."""

    __tablename__ = "report_petition"

    petition_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The day in Beijing it was received: the period rule of the intake measures.
    received_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(20), default="")
    type: Mapped[str] = mapped_column(String(20), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    division_code: Mapped[str] = mapped_column(String(12), default="")
    people_count: Mapped[int] = mapped_column(Integer, default=1)
    # The earlier petition of the same matter by the same people, if this repeats one.
    repeat_of: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # When a later petition first repeated this one.
    repeated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # From the routing decision in force (the latest round).
    routing_round: Mapped[int] = mapped_column(Integer, default=0)
    decision: Mapped[str] = mapped_column(String(20), default="")
    lead_unit: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    lead_level: Mapped[str] = mapped_column(String(20), default="")
    collective: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_level: Mapped[bool] = mapped_column(Boolean, default=False)
    # The petitioner-facing outcome.
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    replied_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    rating: Mapped[str | None] = mapped_column(String(30), nullable=True)
    evaluated_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    review_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reviewed_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    re_examination_requested_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )


class ReportDeadline(Base):
    """One clock of a petition (forward, accept, handle, review …), with the rungs of
    the urging ladder it reached and when."""

    __tablename__ = "report_deadline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    step: Mapped[str] = mapped_column(String(30))  # as the scheduler keys it: accept#2
    base_step: Mapped[str] = mapped_column(String(30))
    unit_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_on: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    urged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    supervised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accountability_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("petition_id", "step"),)


class ReportStep(Base):
    """A step counted by when it was taken (a return), once per event."""

    __tablename__ = "report_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    on: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_report_step_kind_on", "kind", "on"),)
