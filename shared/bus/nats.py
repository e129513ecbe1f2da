"""The NATS JetStream transport.

Publishing sets `Nats-Msg-Id` to the event id, so the broker drops a
re-published event within its duplicate window. Each (consumer, event type)
is a durable pull consumer with explicit acks; a failed delivery is nak'ed
with exponential back-off, and after the last attempt the event goes to the
dead-letter subject `<prefix>.dlq.<consumer>` and is terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.bus.base import DeadLetterFn, Deliver, Subscription, Transport
from shared.events import Envelope

log = logging.getLogger("xinfang.bus.nats")

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
STREAM_MAX_AGE_SECONDS = 30 * 24 * 3600
DUPLICATE_WINDOW_SECONDS = 120


def durable_name(consumer: str, event_type: str) -> str:
    return _UNSAFE.sub("_", f"{consumer}--{event_type}")


class NatsTransport(Transport):
    name = "nats"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "xinfang",
        max_attempts: int = 6,
        retry_base_seconds: float = 1.0,
        ack_wait_seconds: float = 30.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.stream = _UNSAFE.sub("_", prefix).upper() + "_EVENTS"
        self.dlq_stream = _UNSAFE.sub("_", prefix).upper() + "_DLQ"
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.ack_wait_seconds = ack_wait_seconds
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._connected = asyncio.Event()
        self.connect_grace_seconds = 5.0

    def subject(self, event_type: str) -> str:
        return f"{self.prefix}.events.{event_type}"

    def dlq_subject(self, consumer: str) -> str:
        return f"{self.prefix}.dlq.{_UNSAFE.sub('_', consumer)}"

    async def _connect(self) -> JetStreamContext:
        async def on_error(exc: Exception) -> None:
            log.warning("NATS %s: %s", self.url, exc)

        # Retries for as long as it takes, at start and after a disconnect: a
        # process that starts before the broker serves, reports not ready, and
        # begins consuming once the broker answers.
        self._nc = await nats.connect(
            self.url,
            connect_timeout=3,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=on_error,
            name=f"xinfang-{self.prefix}",
        )
        js = self._nc.jetstream()
        for name, subjects in (
            (self.stream, [f"{self.prefix}.events.>"]),
            (self.dlq_stream, [f"{self.prefix}.dlq.>"]),
        ):
            try:
                await js.stream_info(name)
            except NotFoundError:
                await js.add_stream(
                    StreamConfig(
                        name=name,
                        subjects=subjects,
                        storage=StorageType.FILE,
                        duplicate_window=DUPLICATE_WINDOW_SECONDS,
                        max_age=STREAM_MAX_AGE_SECONDS,
                    )
                )
        self._js = js
        return js

    async def start(
        self, subscriptions: list[Subscription], deliver: Deliver, dead_letter: DeadLetterFn
    ) -> None:
        self._stopping = asyncio.Event()
        self._connected = asyncio.Event()
        self._tasks.append(
            asyncio.create_task(
                self._connect_and_consume(subscriptions, deliver, dead_letter), name="nats:connect"
            )
        )
        # Usually the broker answers at once; if it does not, serve anyway (readiness
        # says not ready, the outbox keeps every event) and connect in the background.
        try:
            await asyncio.wait_for(self._connected.wait(), timeout=self.connect_grace_seconds)
        except TimeoutError:
            log.warning("NATS at %s not reachable yet; continuing to connect", self.url)

    async def _connect_and_consume(
        self, subscriptions: list[Subscription], deliver: Deliver, dead_letter: DeadLetterFn
    ) -> None:
        while True:
            try:
                js = await self._connect()
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cannot set up JetStream on %s; retrying", self.url)
                await self._close()
                await asyncio.sleep(2)
        for sub in subscriptions:
            for event_type in sorted(sub.types):
                name = durable_name(sub.consumer, event_type)
                psub = await js.pull_subscribe(
                    self.subject(event_type),
                    durable=name,
                    stream=self.stream,
                    config=ConsumerConfig(
                        durable_name=name,
                        ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_wait=self.ack_wait_seconds,
                        max_deliver=self.max_attempts + 1,
                    ),
                )
                self._tasks.append(
                    asyncio.create_task(
                        self._pull_loop(psub, sub, deliver, dead_letter), name=f"nats:{name}"
                    )
                )
        self._connected.set()
        log.info("connected to NATS JetStream at %s (stream %s)", self.url, self.stream)

    async def _pull_loop(
        self,
        psub: JetStreamContext.PullSubscription,
        sub: Subscription,
        deliver: Deliver,
        dead_letter: DeadLetterFn,
    ) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await psub.fetch(batch=16, timeout=1)
            except NatsTimeout:
                continue
            except asyncio.CancelledError:
                raise
            except Exception:  # connection blips: the client reconnects by itself
                log.warning("fetch failed for %s", sub.consumer, exc_info=True)
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                await self._handle(msg, sub, deliver, dead_letter)

    async def _handle(
        self, msg: Msg, sub: Subscription, deliver: Deliver, dead_letter: DeadLetterFn
    ) -> None:
        attempt = msg.metadata.num_delivered or 1
        try:
            envelope = Envelope.from_json(json.loads(msg.data))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("malformed event on %s: %s", msg.subject, exc)
            await self._to_dlq(sub, msg.data, str(exc))
            await msg.term()
            return
        try:
            await deliver(sub, envelope)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt >= self.max_attempts:
                log.error(
                    "giving up on %s for %s after %d: %s", envelope.id, sub.consumer, attempt, error
                )
                await self._to_dlq(sub, msg.data, error)
                await dead_letter(sub, envelope, attempt, error)
                await msg.term()
            else:
                delay = min(self.retry_base_seconds * 2 ** (attempt - 1), 300.0)
                log.warning(
                    "retrying %s for %s in %.1fs: %s", envelope.id, sub.consumer, delay, error
                )
                await msg.nak(delay=delay)
            return
        await msg.ack()

    async def _to_dlq(self, sub: Subscription, data: bytes, error: str) -> None:
        assert self._js is not None
        await self._js.publish(
            self.dlq_subject(sub.consumer),
            data,
            headers={"Xinfang-Consumer": sub.consumer, "Xinfang-Error": error[:1000]},
        )

    async def publish(self, envelope: Envelope) -> None:
        if self._js is None or not self._connected.is_set():
            raise ConnectionError(f"NATS at {self.url} is not connected yet")
        await self._js.publish(
            self.subject(envelope.type),
            json.dumps(envelope.to_json(), ensure_ascii=False).encode(),
            headers={"Nats-Msg-Id": envelope.id},
        )

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self._close()

    async def _close(self) -> None:
        # Not drain(): the pull loops are cancelled already, unacked messages are
        # redelivered after ack_wait, and nats-py's drain can wait out its whole
        # timeout on status messages its fetch leaves in the queue.
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        self._nc = None
        self._js = None
        self._connected.clear()

    async def ready(self) -> bool:
        return self._connected.is_set() and self._nc is not None and self._nc.is_connected
