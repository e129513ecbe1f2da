"""The outbox relay: publishes committed events to the bus, in order, at least once.

Several relays (one per process in the distributed mode) may run at once: a
relay leases a batch with `FOR UPDATE SKIP LOCKED` (PostgreSQL), so each row is
being published by one relay at a time; if that relay dies, its lease expires
and another one publishes the row again, which the broker's de-duplication and
the consumers' inbox absorb.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.bus.base import DeliveryFailed, Transport
from shared.db import transaction
from shared.events import DeadLetter, Envelope, OutboxEvent
from shared.timeutil import utcnow

log = logging.getLogger("xinfang.bus.relay")


@dataclass(frozen=True)
class Claimed:
    seq: int
    envelope: Envelope
    attempts: int


class OutboxRelay:
    def __init__(
        self,
        factory: sessionmaker[Session],
        transport: Transport,
        *,
        batch_size: int = 100,
        lease_seconds: float = 10.0,
        max_attempts: int = 6,
        retry_base_seconds: float = 1.0,
        poll_seconds: float = 0.1,
    ) -> None:
        self.factory = factory
        self.transport = transport
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.poll_seconds = poll_seconds

    def _claim(self) -> list[Claimed]:
        now = utcnow()
        with transaction(self.factory) as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.published_at.is_(None),
                    OutboxEvent.dead_at.is_(None),
                    OutboxEvent.available_at <= now,
                )
                .order_by(OutboxEvent.seq)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.available_at = now + self.lease
            return [Claimed(r.seq, Envelope.from_json(r.envelope), r.attempts) for r in rows]

    def release_leases(self) -> int:
        """Make every leased, unpublished row available now; returns how many."""
        now = utcnow()
        with transaction(self.factory) as session:
            result = session.execute(
                update(OutboxEvent)
                .where(
                    OutboxEvent.published_at.is_(None),
                    OutboxEvent.dead_at.is_(None),
                    OutboxEvent.available_at > now,
                    OutboxEvent.attempts == 0,
                )
                .values(available_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def _mark_published(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with transaction(self.factory) as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq.in_(seqs))
                .values(published_at=utcnow(), last_error=None)
            )

    def _mark_failed(self, item: Claimed, error: Exception) -> None:
        attempts = item.attempts + 1
        now = utcnow()
        with transaction(self.factory) as session:
            row = session.get(OutboxEvent, item.seq)
            if row is None:
                return
            row.attempts = attempts
            row.last_error = f"{type(error).__name__}: {error}"[:4000]
            # Only consumers' failures count against the budget: when the broker is
            # down, publishing is retried for as long as it takes, never given up.
            gives_up = self.transport.delivers_on_publish and attempts >= self.max_attempts
            if gives_up:
                row.dead_at = now
                failures = (
                    error.failures if isinstance(error, DeliveryFailed) else {"relay": str(error)}
                )
                for consumer, message in failures.items():
                    session.add(
                        DeadLetter(
                            consumer=consumer,
                            event_id=item.envelope.id,
                            event_type=item.envelope.type,
                            envelope=item.envelope.to_json(),
                            attempts=attempts,
                            error=message[:4000],
                            failed_at=now,
                        )
                    )
                log.error(
                    "event %s is dead after %d attempts: %s", item.envelope.id, attempts, error
                )
            else:
                # Exponential back-off with jitter, so a broken consumer is not hammered.
                delay = min(self.retry_base_seconds * 2 ** (attempts - 1), 60.0)
                row.available_at = now + timedelta(seconds=delay * random.uniform(0.8, 1.2))
                log.warning("event %s failed (attempt %d): %s", item.envelope.id, attempts, error)

    async def run_once(self) -> int:
        """Publish what is due now; returns how many events were published."""
        claimed = await asyncio.to_thread(self._claim)
        published: list[int] = []
        try:
            for item in claimed:
                try:
                    await self.transport.publish(item.envelope)
                except Exception as exc:
                    await asyncio.to_thread(self._mark_failed, item, exc)
                else:
                    published.append(item.seq)
        finally:
            await asyncio.to_thread(self._mark_published, published)
        return len(published)

    async def run_forever(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay pass failed; retrying")
                busy = 0
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=self.poll_seconds)
