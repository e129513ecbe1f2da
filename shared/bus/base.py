"""The one interface both transports implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.events import Envelope, Handler


@dataclass(frozen=True)
class Subscription:
    """A durable consumer: a name unique per service and handler, the types it wants."""

    consumer: str
    types: frozenset[str]
    handler: Handler


# The bus gives each transport this: run one subscription's handler on one event
# (idempotently, in a thread); it raises when the handler failed.
Deliver = Callable[[Subscription, Envelope], Awaitable[None]]
# ... and this: record that a subscription gave up on an event after its last attempt.
DeadLetterFn = Callable[[Subscription, Envelope, int, str], Awaitable[None]]


class DeliveryFailed(Exception):
    """Some consumers failed on an event; the transport will offer it again."""

    def __init__(self, failures: dict[str, str]) -> None:
        super().__init__("; ".join(f"{c}: {e}" for c, e in failures.items()))
        self.failures = failures


class Transport(ABC):
    name: str

    @abstractmethod
    async def start(
        self, subscriptions: list[Subscription], deliver: Deliver, dead_letter: DeadLetterFn
    ) -> None:
        """Connect and begin delivering to the subscriptions."""

    @abstractmethod
    async def publish(self, envelope: Envelope) -> None:
        """Hand one event to the bus; returns once the bus holds it, raises otherwise."""

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def ready(self) -> bool:
        """Whether the bus is reachable now."""

    # Transports that hold delivery themselves (NATS) dead-letter there; the embedded
    # one delivers inside publish, so the relay's retry budget is the consumers' too.
    delivers_on_publish: bool = False
