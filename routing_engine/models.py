"""The routing engine's table: every decision, with what it read and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class RoutingDecision(Base):
    __tablename__ = "routing_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    # 1 for the first decision; routing again after a return adds the next one.
    round: Mapped[int] = mapped_column(Integer, default=1)
    event_id: Mapped[str] = mapped_column(String(36))
    decision: Mapped[str] = mapped_column(String(20))
    lead_unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    routing: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The petition as received, so a returned petition can be routed again.
    petition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    trace: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    units_used: Mapped[dict[str, Any]] = mapped_column(JSON)
    ruleset_version: Mapped[str] = mapped_column(String(100))
    directory_version: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("petition_id", "round"),)


class RulesetVersion(Base):
    """A routing ruleset as saved: validated on save; its golden cases must pass before
    it may go live; one active version per jurisdiction (a county's division code)."""

    __tablename__ = "ruleset_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    jurisdiction: Mapped[str] = mapped_column(String(12))
    version: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(12))
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    # validated → tested (golden cases pass) → active → retired
    state: Mapped[str] = mapped_column(String(20))
    golden_report: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(150))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("jurisdiction", "version", "digest"),
        # The database, not code, keeps one active version per jurisdiction.
        Index(
            "uq_ruleset_version_active",
            "jurisdiction",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
    )


class RulesetAudit(Base):
    """Who saved, tested, activated or rolled back which version, and when."""

    __tablename__ = "ruleset_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ruleset_id: Mapped[int] = mapped_column(Integer, index=True)
    jurisdiction: Mapped[str] = mapped_column(String(12))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class FinalizedMatter(Base):
    """A petition closed after re-examination (三级终结, art. 36): the same matter raised
    again is declined as finalized, with a pointer to it."""

    __tablename__ = "finalized_matter"

    petition_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    finalized_at: Mapped[datetime] = mapped_column(UTCDateTime())
