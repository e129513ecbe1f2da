"""The embedded transport: the outbox is the log, publishing delivers in process.

`publish` runs every matching subscription's handler before it returns, so
the relay marks an event published only after every consumer has handled it.
A crash in between leaves the row unpublished: it is delivered again at the
next start, and the inbox keeps consumers that already acted from acting twice.
"""

from __future__ import annotations

from shared.bus.base import DeadLetterFn, Deliver, DeliveryFailed, Subscription, Transport
from shared.events import Envelope


class EmbeddedTransport(Transport):
    name = "embedded"
    delivers_on_publish = True

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._deliver: Deliver | None = None

    async def start(
        self, subscriptions: list[Subscription], deliver: Deliver, dead_letter: DeadLetterFn
    ) -> None:
        self._subscriptions = list(subscriptions)
        self._deliver = deliver

    async def publish(self, envelope: Envelope) -> None:
        if self._deliver is None:
            raise RuntimeError("embedded transport used before start()")
        failures: dict[str, str] = {}
        for sub in self._subscriptions:
            if envelope.type not in sub.types:
                continue
            try:
                await self._deliver(sub, envelope)
            except Exception as exc:  # one consumer's failure must not starve the others
                failures[sub.consumer] = f"{type(exc).__name__}: {exc}"
        if failures:
            raise DeliveryFailed(failures)

    async def stop(self) -> None:
        self._deliver = None

    async def ready(self) -> bool:
        return True
