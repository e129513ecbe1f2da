"""The scheduler's table: one deadline per (petition, step)."""

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

    __table_args__ = (
        UniqueConstraint("petition_id", "step"),
        # The sweep's hot path: what falls due, among the open ones only.
        Index(
            "ix_deadline_open_due",
            "due_at",
            postgresql_where=text("state NOT IN ('met', 'paused')"),
            sqlite_where=text("state NOT IN ('met', 'paused')"),
        ),
    )
