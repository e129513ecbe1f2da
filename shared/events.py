"""Events: the CloudEvents 1.0 envelope, the transactional outbox, the inbox.

A service changes state and calls `emit()` in the same session: the event is
an outbox row committed with the change (nothing is announced that did not
happen, nothing that happened goes unannounced). The relay publishes outbox
rows to the bus. A consumer's handler runs inside `handle_once()`, which
records the event id in the inbox in the handler's own transaction, so a
redelivered event is acknowledged without acting twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shared.db import Base, UTCDateTime, transaction
from shared.timeutil import utcnow

SPEC_VERSION = "1.0"
SOURCE_PREFIX = "/xinfang/"


# The event types services exchange. A type names a fact, in the past tense.
PETITION_RECEIVED = "cn.xinfang.petition.received"
PETITION_ROUTED = "cn.xinfang.petition.routed"
DEADLINE_OPENED = "cn.xinfang.deadline.opened"
DEADLINE_RECOMPUTED = "cn.xinfang.deadline.recomputed"
NOTICE_RECORDED = "cn.xinfang.notice.recorded"
NOTICE_FAILED = "cn.xinfang.notice.failed"
PETITION_EVALUATED = "cn.xinfang.petition.evaluated"
REVIEW_REQUESTED = "cn.xinfang.petition.review_requested"
IDENTITY_REKEYED = "cn.xinfang.petition.identity_rekeyed"
PETITION_RETURNED = "cn.xinfang.petition.returned"
# The handling unit's steps (services.casework.lifecycle), one type per step.
PETITION_ACCEPTED = "cn.xinfang.petition.accepted"
PETITION_DECLINED = "cn.xinfang.petition.declined"
PETITION_EXTENDED = "cn.xinfang.petition.extended"
PETITION_PAUSED = "cn.xinfang.petition.paused"
PETITION_RESUMED = "cn.xinfang.petition.resumed"
PETITION_REPLIED = "cn.xinfang.petition.replied"
PETITION_REVIEWED = "cn.xinfang.petition.reviewed"
PETITION_RE_EXAMINED = "cn.xinfang.petition.re_examined"
PETITION_FINALIZED = "cn.xinfang.petition.finalized"
PETITION_NOTED = "cn.xinfang.petition.noted"
LEADER_ASSIGNED = "cn.xinfang.petition.leader_assigned"
POLICY_CHANGED = "cn.xinfang.policy.changed"
# Casework's steps that move a clock, numbered per petition (`clock_seq`) in the order
# they were taken: the scheduler applies them in that order even when a distributed
# bus delivers them crossed (each type has its own consumer there).
CLOCK_STEP_EVENTS = (
    PETITION_ACCEPTED,
    PETITION_DECLINED,
    PETITION_RETURNED,
    PETITION_EXTENDED,
    PETITION_PAUSED,
    PETITION_RESUMED,
    PETITION_REPLIED,
    REVIEW_REQUESTED,
    PETITION_REVIEWED,
    PETITION_RE_EXAMINED,
)
# The urging ladder: one type per stage (deadline_scheduler.ladder).
DEADLINE_STAGES = ("reminded", "urged", "supervised", "accountability")
DEADLINE_STAGE_TYPES = tuple(f"cn.xinfang.deadline.{s}" for s in DEADLINE_STAGES)
# A met deadline is done; a paused one's clock is stopped: neither can be overdue.
CLOCK_STOPPED_STATES = ("met", "paused")


@dataclass(frozen=True)
class Envelope:
    """A CloudEvents 1.0 event in structured JSON form."""

    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=utcnow)
    specversion: str = SPEC_VERSION
    datacontenttype: str = "application/json"

    def to_json(self) -> dict[str, Any]:
        return {
            "specversion": self.specversion,
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "datacontenttype": self.datacontenttype,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Envelope:
        for key in ("specversion", "id", "type", "source"):
            if key not in doc:
                raise ValueError(f"CloudEvent lacks required attribute {key!r}")
        if doc["specversion"] != SPEC_VERSION:
            raise ValueError(f"unsupported CloudEvents specversion {doc['specversion']!r}")
        return cls(
            id=str(doc["id"]),
            type=str(doc["type"]),
            source=str(doc["source"]),
            subject=str(doc.get("subject", "")),
            time=datetime.fromisoformat(doc["time"]) if doc.get("time") else utcnow(),
            data=dict(doc.get("data") or {}),
            datacontenttype=str(doc.get("datacontenttype", "application/json")),
        )


class OutboxEvent(Base):
    """An event waiting to be (or already) published; kept after publishing for replay."""

    __tablename__ = "outbox_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(100))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A relay leases a batch until this instant; another relay takes over after it.
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        # The relay's hot path: what is still to publish, by when it may be tried.
        Index(
            "ix_outbox_event_pending",
            "available_at",
            postgresql_where=text("published_at IS NULL AND dead_at IS NULL"),
            sqlite_where=text("published_at IS NULL AND dead_at IS NULL"),
        ),
    )


class InboxEvent(Base):
    """An event a consumer has handled; the unique pair makes handling idempotent."""

    __tablename__ = "inbox_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(100))
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("consumer", "event_id"),)


class DeadLetter(Base):
    """An event a consumer gave up on after its last attempt; visible to operators."""

    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(100))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("consumer", "event_id"),)


def emit(
    session: Session, *, type: str, service: str, subject: str, data: dict[str, Any]
) -> Envelope:
    """Record an event in the outbox, in the caller's transaction."""
    envelope = Envelope(type=type, source=SOURCE_PREFIX + service, subject=subject, data=data)
    now = utcnow()
    session.add(
        OutboxEvent(
            event_id=envelope.id,
            type=type,
            subject=subject,
            envelope=envelope.to_json(),
            created_at=now,
            available_at=now,
            attempts=0,
        )
    )
    return envelope


def _handled(session: Session, consumer: str, event_id: str) -> bool:
    found = session.scalar(
        select(InboxEvent.id).where(
            InboxEvent.consumer == consumer, InboxEvent.event_id == event_id
        )
    )
    return found is not None


# A handler acts on one event inside the transaction that also records it handled.
Handler = Callable[[Session, Envelope], None]


def handle_once(
    factory: sessionmaker[Session], consumer: str, handler: Handler, envelope: Envelope
) -> bool:
    """Run `handler` unless `consumer` already handled this event; True if it ran.

    The inbox row and the handler's changes commit together: either both or
    neither, so a crash between them leads to a clean redelivery.
    """
    try:
        with transaction(factory) as session:
            if _handled(session, consumer, envelope.id):
                return False
            session.add(
                InboxEvent(
                    consumer=consumer,
                    event_id=envelope.id,
                    event_type=envelope.type,
                    handled_at=utcnow(),
                )
            )
            session.flush()  # a concurrent duplicate fails here, before the handler acts
            handler(session, envelope)
            return True
    except IntegrityError:
        # Another replica handled the same event at the same moment; its work stands.
        with transaction(factory) as session:
            if not _handled(session, consumer, envelope.id):
                raise
        return False


def record_dead_letter(
    factory: sessionmaker[Session], consumer: str, envelope: Envelope, attempts: int, error: str
) -> None:
    with transaction(factory) as session:
        exists = session.scalar(
            select(DeadLetter.id).where(
                DeadLetter.consumer == consumer, DeadLetter.event_id == envelope.id
            )
        )
        if exists is None:
            session.add(
                DeadLetter(
                    consumer=consumer,
                    event_id=envelope.id,
                    event_type=envelope.type,
                    envelope=envelope.to_json(),
                    attempts=attempts,
                    error=error[:4000],
                    failed_at=utcnow(),
                )
            )
