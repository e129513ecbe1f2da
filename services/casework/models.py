"""Casework's read model: the petition as staff see it, projected from events.

Casework owns no other service's tables; it learns everything from events, so
each projection is an upsert that tolerates events arriving in any order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class CaseView(Base):
    __tablename__ = "case_view"

    petition_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    query_code: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(30), default="received")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    lead_unit: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    # Keyed hashes of the petitioners' phones: the petitioner proves who they are
    # with query code + phone, and casework never holds the phone itself.
    phone_hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # When the handling unit replied (信访处理意见书) and when a review opinion was
    # given: the petitioner's windows to rate and to ask for review run from these.
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_opinion_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseDeadline(Base):
    __tablename__ = "case_deadline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    step: Mapped[str] = mapped_column(String(30))
    step_name: Mapped[str] = mapped_column(String(50))
    unit_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20))
    provisional: Mapped[bool] = mapped_column(default=False)
    basis: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("petition_id", "step"),)


class TimelineEntry(Base):
    __tablename__ = "timeline_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class PetitionerRequest(Base):
    """What a petitioner asked through tracking: a rating, a review, a re-examination."""

    __tablename__ = "petitioner_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # evaluation | review | re_examination
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("petition_id", "kind"),)
