"""The event bus a process uses: its transport, its outbox relay, its consumers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from sqlalchemy.orm import Session, sessionmaker

from shared.bus.base import DeliveryFailed, Subscription, Transport
from shared.bus.embedded import EmbeddedTransport
from shared.bus.relay import OutboxRelay
from shared.config import BusSettings
from shared.events import Envelope, Handler, handle_once, record_dead_letter

log = logging.getLogger("xinfang.bus")

__all__ = ["Bus", "DeliveryFailed", "Subscription", "Transport", "make_transport"]


def make_transport(settings: BusSettings) -> Transport:
    url = settings.event_bus_url
    if url.startswith("embedded"):
        return EmbeddedTransport()
    if url.startswith(("nats://", "tls://")):
        from shared.bus.nats import NatsTransport

        return NatsTransport(
            url,
            prefix=settings.event_bus_prefix,
            max_attempts=settings.event_max_attempts,
            retry_base_seconds=settings.event_retry_base_seconds,
            ack_wait_seconds=settings.event_ack_wait_seconds,
        )
    raise ValueError(f"EVENT_BUS_URL must be embedded:// or nats://host:port, not {url!r}")


class Bus:
    """Wires a transport, the outbox relay and this process's consumers."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        transport: Transport,
        settings: BusSettings,
        *,
        run_relay: bool = True,
    ) -> None:
        self.factory = factory
        self.transport = transport
        self.settings = settings
        self.subscriptions: list[Subscription] = []
        self.relay = OutboxRelay(
            factory,
            transport,
            max_attempts=settings.event_max_attempts,
            retry_base_seconds=settings.event_retry_base_seconds,
            poll_seconds=settings.outbox_poll_seconds,
            lease_seconds=settings.outbox_lease_seconds,
        )
        self.run_relay = run_relay
        self._stopping = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self.started = False

    def subscribe(self, consumer: str, types: Iterable[str], handler: Handler) -> None:
        if self.started:
            raise RuntimeError("subscribe before the bus starts")
        self.subscriptions.append(Subscription(consumer, frozenset(types), handler))

    async def _deliver(self, sub: Subscription, envelope: Envelope) -> None:
        await asyncio.to_thread(handle_once, self.factory, sub.consumer, sub.handler, envelope)

    async def _dead_letter(
        self, sub: Subscription, envelope: Envelope, attempts: int, error: str
    ) -> None:
        await asyncio.to_thread(
            record_dead_letter, self.factory, sub.consumer, envelope, attempts, error
        )

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        await self.transport.start(self.subscriptions, self._deliver, self._dead_letter)
        if self.transport.delivers_on_publish:
            # Embedded, this process is the only relay: leases left by a crashed
            # predecessor guard nothing and would only delay what it left undone.
            await asyncio.to_thread(self.relay.release_leases)
        if self.run_relay:
            self._relay_task = asyncio.create_task(
                self.relay.run_forever(self._stopping), name="outbox-relay"
            )
        self.started = True

    async def stop(self) -> None:
        self._stopping.set()
        if self._relay_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._relay_task, timeout=10)
            self._relay_task = None
        await self.transport.stop()
        self.started = False

    async def ready(self) -> bool:
        try:
            return await self.transport.ready()
        except Exception:
            return False
