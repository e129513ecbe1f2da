"""Helpers for the event bus tests (the fixtures are in conftest.py).

Every database the tests open gets a `bus_test_effect` table: handlers insert
a row per event they act on, in the transaction `handle_once` gives them, so
"acted once" is checked on what was committed, not only on what a handler
was asked to do.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import BusSettings
from shared.db import transaction
from shared.events import DeadLetter, Envelope, InboxEvent, OutboxEvent, emit

EVENT_TYPE = "cn.xinfang.test.happened"
OTHER_TYPE = "cn.xinfang.test.other"
SERVICE = "bus-test"

EFFECT_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS bus_test_effect ("
    " consumer VARCHAR(100) NOT NULL,"
    " event_id VARCHAR(36) NOT NULL)"
)


def bus_settings(url: str = "embedded://", prefix: str = "xinfang") -> BusSettings:
    return BusSettings(
        event_bus_url=url,
        event_bus_prefix=prefix,
        event_retry_base_seconds=0.05,
        event_max_attempts=3,
        event_ack_wait_seconds=2,
        outbox_poll_seconds=0.02,
    )


# ---------------------------------------------------------------- handlers


def record_effect(session: Session, consumer: str, envelope: Envelope) -> None:
    """The handler's durable side effect, committed together with its inbox row."""
    session.execute(
        text("INSERT INTO bus_test_effect (consumer, event_id) VALUES (:c, :e)"),
        {"c": consumer, "e": envelope.id},
    )


def effect_handler(
    consumer: str, calls: list[str] | None = None
) -> Callable[[Session, Envelope], None]:
    def handler(session: Session, envelope: Envelope) -> None:
        if calls is not None:
            calls.append(envelope.id)
        record_effect(session, consumer, envelope)

    return handler


# ---------------------------------------------------------------- database probes


def emit_events(factory: sessionmaker[Session], n: int, type: str = EVENT_TYPE) -> list[str]:
    """Commit `n` events, one transaction each; their ids."""
    ids = []
    for i in range(n):
        with transaction(factory) as session:
            ids.append(
                emit(session, type=type, service=SERVICE, subject=f"case-{i}", data={"n": i}).id
            )
    return ids


def effects(factory: sessionmaker[Session], consumer: str) -> Counter[str]:
    with transaction(factory) as session:
        rows = session.execute(
            text("SELECT event_id FROM bus_test_effect WHERE consumer = :c"), {"c": consumer}
        ).all()
    return Counter(r[0] for r in rows)


def find_outbox_row(factory: sessionmaker[Session], event_id: str) -> OutboxEvent | None:
    with transaction(factory) as session:
        return session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == event_id))


def outbox_row(factory: sessionmaker[Session], event_id: str) -> OutboxEvent:
    row = find_outbox_row(factory, event_id)
    assert row is not None, f"no outbox row for {event_id}"
    return row


def published_at(factory: sessionmaker[Session], event_id: str) -> Any:
    row = find_outbox_row(factory, event_id)
    return row.published_at if row is not None else None


def outbox_rows(factory: sessionmaker[Session]) -> list[OutboxEvent]:
    with transaction(factory) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


def unpublished(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
            )
            or 0
        )


def dead_letters(factory: sessionmaker[Session]) -> list[DeadLetter]:
    with transaction(factory) as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def inbox(factory: sessionmaker[Session], consumer: str) -> Counter[str]:
    with transaction(factory) as session:
        rows = session.scalars(select(InboxEvent.event_id).where(InboxEvent.consumer == consumer))
        return Counter(rows)


async def eventually(probe: Callable[[], Any], timeout: float = 8.0, interval: float = 0.05) -> Any:
    """Poll a (blocking) probe off the event loop until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(probe)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)
