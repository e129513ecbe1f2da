"""The scheduler's tables: one deadline per (petition, step), the stages issued, the
county's own time limits, the leaders in charge of a petition, and how far each
petition's clock steps have been applied (with those that came too early)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class Deadline(Base):
    __tablename__ = "deadline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    step: Mapped[str] = mapped_column(String(30))
    unit_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20), default="open")
    provisional: Mapped[bool] = mapped_column(default=False)
    basis: Mapped[dict[str, Any]] = mapped_column(JSON)
    opened_by_event: Mapped[str] = mapped_column(String(36))
    # The unit a report accuses: it never sees the report's deadlines (arts. 30, 46).
    hidden_from: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # When the sweep must next look at it: the next ladder stage; None when done.
    next_stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("petition_id", "step"),
        # The sweep's hot path: what falls due, among the open ones only.
        Index(
            "ix_deadline_open_due",
            "due_at",
            postgresql_where=text("state NOT IN ('met', 'paused')"),
            sqlite_where=text("state NOT IN ('met', 'paused')"),
        ),
        # The sweep's claim: what has a stage due, among the open ones only, so its
        # cost grows with what is due, not with what is open.
        Index(
            "ix_deadline_next_stage",
            "next_stage_at",
            postgresql_where=text("next_stage_at IS NOT NULL AND state NOT IN ('met', 'paused')"),
            sqlite_where=text("next_stage_at IS NOT NULL AND state NOT IN ('met', 'paused')"),
        ),
    )


class DeadlineStage(Base):
    """A ladder stage issued for a deadline; the unique pair issues each stage once,
    however many sweeps run."""

    __tablename__ = "deadline_stage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deadline_id: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(30))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("deadline_id", "stage"),)


class TimeLimit(Base):
    """A county's own length for a step, for units of one level ("" = every level)."""

    __tablename__ = "time_limit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    step: Mapped[str] = mapped_column(String(30))
    level: Mapped[str] = mapped_column(String(20), default="")
    length: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20))
    ladder: Mapped[str | None] = mapped_column(String(30), nullable=True)
    source: Mapped[str] = mapped_column(String(500))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("step", "level"),)


class UrgingLadder(Base):
    """A county's own urging ladder, by name: a default one redefined, or another a
    time limit names. Its stages as `deadline_scheduler.ladder.ladder_from_data` reads them."""

    __tablename__ = "urging_ladder"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(500))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PetitionLeader(Base):
    """A leader's unit in charge of a petition (包案): told of its stages from urging on."""

    __tablename__ = "petition_leader"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    unit_id: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("petition_id", "unit_id"),)


class ClockCursor(Base):
    """How far a petition's clock steps (casework's `clock_seq`) have been applied."""

    __tablename__ = "clock_cursor"

    petition_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    applied_seq: Mapped[int] = mapped_column(Integer, default=0)


class ParkedStep(Base):
    """A clock step that arrived before one it follows (a resume before its pause, an
    acceptance before the routing that opened its clock): kept, and applied as soon
    as what it waits for has been."""

    __tablename__ = "parked_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("petition_id", "seq"),)
