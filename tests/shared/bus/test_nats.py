"""The NATS JetStream bus, as several processes share it over one PostgreSQL.

Each "process" is its own `Bus` with its own `NatsTransport` (its own
connection); they share the database. What a user would notice: every event
is acted on once per consumer, whoever relays it and however often; a failing
consumer is retried, and one that never succeeds is dead-lettered where an
operator can see it; a consumer that was down catches up on what it missed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import timedelta

import nats
import pytest
from nats.js.api import StorageType, StreamConfig
from sqlalchemy.orm import Session

from shared.bus import Bus, make_transport
from shared.bus.nats import DUPLICATE_WINDOW_SECONDS, NatsTransport, durable_name
from shared.config import BusSettings
from shared.events import Envelope
from tests.shared.bus.support import (
    EVENT_TYPE,
    dead_letters,
    effect_handler,
    effects,
    emit_events,
    eventually,
    outbox_row,
    outbox_rows,
    published_at,
    record_effect,
    unpublished,
)

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


def make_bus(factory, settings: BusSettings, *, run_relay: bool = True) -> Bus:
    transport = make_transport(settings)
    assert isinstance(transport, NatsTransport)
    return Bus(factory, transport, settings, run_relay=run_relay)


def nats_of(bus: Bus) -> NatsTransport:
    assert isinstance(bus.transport, NatsTransport)
    return bus.transport


async def shutdown(*buses: Bus, patience: float = 2.0) -> bool:
    """Stop buses (concurrently); True if one had to be closed forcibly.

    `NatsTransport.stop()` drains its connection, which hangs for nats-py's
    30 s drain timeout once a pull loop has idled (see
    test_stopping_an_idle_nats_bus_is_prompt). So that the other tests test
    their own behaviour, and fast, a bus that has not stopped after `patience`
    seconds gets its connection closed here instead.
    """

    async def one(bus: Bus) -> bool:
        began = time.monotonic()
        try:
            # (nats-py's drain absorbs the cancellation and closes the connection
            # itself, so this may return normally after `patience`: time it.)
            await asyncio.wait_for(bus.stop(), timeout=patience)
        except TimeoutError:
            nc = getattr(bus.transport, "_nc", None)
            if nc is not None:
                await nc.close()
            return True
        return time.monotonic() - began >= patience

    return any(await asyncio.gather(*(one(b) for b in buses)))


async def stream_messages(settings: BusSettings, stream: str) -> int:
    nc = await nats.connect(settings.event_bus_url, connect_timeout=3)
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()


# 6 --------------------------------------------------------------------------


def test_relay_publishes_and_another_process_handles_each_event_once(pg_url, open_db, nats_bus):
    factory = open_db(pg_url)
    calls: list[str] = []

    async def scenario() -> None:
        publisher = make_bus(factory, nats_bus)  # relays, consumes nothing
        consumer = make_bus(factory, nats_bus, run_relay=False)
        consumer.subscribe("test.remote", [EVENT_TYPE], effect_handler("test.remote", calls))
        await publisher.start()
        await consumer.start()
        try:
            ids = await asyncio.to_thread(emit_events, factory, 5)
            await eventually(lambda: len(effects(factory, "test.remote")) == 5)
            await eventually(lambda: unpublished(factory) == 0)
            await asyncio.sleep(0.5)
            assert Counter(calls) == {i: 1 for i in ids}
            assert effects(factory, "test.remote") == {i: 1 for i in ids}
            assert await stream_messages(nats_bus, nats_of(publisher).stream) == 5
            assert all(r.attempts == 0 and r.dead_at is None for r in outbox_rows(factory))
        finally:
            await shutdown(consumer, publisher)

    asyncio.run(scenario())


def test_publishing_the_same_event_twice_delivers_it_once(pg_url, open_db, nats_bus):
    factory = open_db(pg_url)
    delivered: list[str] = []

    async def scenario() -> None:
        consumer = make_bus(factory, nats_bus, run_relay=False)
        consumer.subscribe("test.dedup", [EVENT_TYPE], effect_handler("test.dedup"))
        # Count deliveries below the inbox, which would hide a duplicate from the handler.
        inner = consumer._deliver

        async def counting(sub, envelope):
            delivered.append(envelope.id)
            await inner(sub, envelope)

        consumer._deliver = counting  # type: ignore[method-assign]
        await consumer.start()
        transport = nats_of(consumer)
        try:
            envelope = Envelope(type=EVENT_TYPE, source="/xinfang/test", subject="s", data={})
            await transport.publish(envelope)
            await transport.publish(envelope)  # e.g. a relay that died before marking it
            await transport.publish(Envelope.from_json(envelope.to_json()))
            await eventually(lambda: effects(factory, "test.dedup")[envelope.id])
            await asyncio.sleep(1.0)
            assert delivered == [envelope.id]
            assert effects(factory, "test.dedup") == {envelope.id: 1}
            assert await stream_messages(nats_bus, transport.stream) == 1
        finally:
            await shutdown(consumer)

    asyncio.run(scenario())


# 7 --------------------------------------------------------------------------


def test_failing_consumer_is_redelivered_and_broken_one_is_dead_lettered(pg_url, open_db, nats_bus):
    factory = open_db(pg_url)
    flaky_calls: list[str] = []
    broken_calls: list[str] = []

    def flaky(session: Session, envelope: Envelope) -> None:
        flaky_calls.append(envelope.id)
        record_effect(session, "test.flaky", envelope)
        if flaky_calls.count(envelope.id) == 1:
            raise ConnectionError("first delivery fails")

    def broken(session: Session, envelope: Envelope) -> None:
        broken_calls.append(envelope.id)
        record_effect(session, "test.broken", envelope)
        raise ValueError("unknown division 990199")

    async def scenario() -> tuple[str, list]:
        bus = make_bus(factory, nats_bus)
        bus.subscribe("test.flaky", [EVENT_TYPE], flaky)
        bus.subscribe("test.broken", [EVENT_TYPE], broken)
        await bus.start()
        transport = bus.transport
        assert isinstance(transport, NatsTransport)
        nc = await nats.connect(nats_bus.event_bus_url, connect_timeout=3)
        try:
            (event_id,) = await asyncio.to_thread(emit_events, factory, 1)
            await eventually(lambda: effects(factory, "test.flaky")[event_id])
            await eventually(lambda: dead_letters(factory))
            dlq = await nc.jetstream().pull_subscribe(
                f"{nats_bus.event_bus_prefix}.dlq.>", stream=transport.dlq_stream
            )
            msgs = await dlq.fetch(batch=10, timeout=3)
            for msg in msgs:
                await msg.ack()
            # A terminated message is not offered again, not even after the ack wait.
            await asyncio.sleep(nats_bus.event_ack_wait_seconds + 0.5)
            with pytest.raises(nats.errors.TimeoutError):
                await dlq.fetch(batch=10, timeout=0.5)
            assert await stream_messages(nats_bus, transport.dlq_stream) == 1
        finally:
            await nc.close()
            await shutdown(bus)
        return event_id, msgs

    event_id, msgs = asyncio.run(scenario())

    assert flaky_calls == [event_id, event_id]
    assert effects(factory, "test.flaky") == {event_id: 1}

    assert broken_calls == [event_id] * 3  # event_max_attempts
    assert effects(factory, "test.broken") == {}
    (msg,) = msgs
    assert msg.subject == f"{nats_bus.event_bus_prefix}.dlq.test_broken"
    assert msg.headers["Xinfang-Consumer"] == "test.broken"
    assert "unknown division 990199" in msg.headers["Xinfang-Error"]
    assert Envelope.from_json(json.loads(msg.data)).id == event_id

    (dead,) = dead_letters(factory)
    assert dead.consumer == "test.broken"
    assert dead.event_id == event_id
    assert dead.event_type == EVENT_TYPE
    assert dead.attempts == 3
    assert "ValueError" in dead.error and "unknown division 990199" in dead.error

    # Consumers failing is not the relay's business: the row was published once.
    (row,) = outbox_rows(factory)
    assert row.published_at is not None
    assert row.dead_at is None
    assert row.attempts == 0


# 8 --------------------------------------------------------------------------


def test_consumer_that_was_down_catches_up_on_missed_events(pg_url, open_db, nats_bus):
    factory = open_db(pg_url)
    calls: list[str] = []

    async def scenario() -> tuple[list[str], list[str]]:
        publisher = make_bus(factory, nats_bus)
        await publisher.start()
        try:
            first = make_bus(factory, nats_bus, run_relay=False)
            first.subscribe("test.durable", [EVENT_TYPE], effect_handler("test.durable", calls))
            await first.start()
            before = await asyncio.to_thread(emit_events, factory, 2)
            await eventually(lambda: len(effects(factory, "test.durable")) == 2)
            await shutdown(first)  # the consuming process goes away

            missed = await asyncio.to_thread(emit_events, factory, 3)
            await eventually(lambda: unpublished(factory) == 0)  # they are on the broker
            await asyncio.sleep(0.3)
            assert len(effects(factory, "test.durable")) == 2  # nobody consumed them

            second = make_bus(factory, nats_bus, run_relay=False)  # it comes back
            second.subscribe("test.durable", [EVENT_TYPE], effect_handler("test.durable", calls))
            await second.start()
            try:
                await eventually(lambda: len(effects(factory, "test.durable")) == 5)
                await asyncio.sleep(0.5)
                nc = await nats.connect(nats_bus.event_bus_url, connect_timeout=3)
                try:
                    info = await nc.jetstream().consumer_info(
                        nats_of(second).stream, durable_name("test.durable", EVENT_TYPE)
                    )
                finally:
                    await nc.close()
                assert info.num_pending == 0
                assert info.num_ack_pending == 0
            finally:
                await shutdown(second)
        finally:
            await shutdown(publisher)
        return before, missed

    before, missed = asyncio.run(scenario())
    assert Counter(calls) == {i: 1 for i in before + missed}
    assert calls[2:] == missed  # caught up in order
    assert effects(factory, "test.durable") == {i: 1 for i in before + missed}


def test_restarted_nats_bus_keeps_delivering(pg_url, open_db, nats_bus):
    """The same Bus object stopped and started again (Bus.start supports it)."""
    factory = open_db(pg_url)
    calls: list[str] = []

    async def scenario() -> tuple[str, str]:
        bus = make_bus(factory, nats_bus)
        bus.subscribe("test.restart", [EVENT_TYPE], effect_handler("test.restart", calls))
        await bus.start()
        (first,) = await asyncio.to_thread(emit_events, factory, 1)
        await eventually(lambda: effects(factory, "test.restart")[first])
        await shutdown(bus)
        await bus.start()
        try:
            (second,) = await asyncio.to_thread(emit_events, factory, 1)
            await eventually(lambda: published_at(factory, second))  # the relay runs again
            await eventually(lambda: effects(factory, "test.restart")[second], timeout=4)
        finally:
            await shutdown(bus)
        return first, second

    first, second = asyncio.run(scenario())
    assert calls == [first, second]


def test_stopping_an_idle_nats_bus_is_prompt(pg_url, open_db, nats_bus):
    """A process shutting down (SIGTERM on a deploy) must not hang on the bus.

    Orchestrators kill what does not stop within ~10 s; a relay or consumer
    killed mid-work is recovered, but every deploy would then be a crash.
    """
    factory = open_db(pg_url)

    async def scenario() -> tuple[bool, float]:
        bus = make_bus(factory, nats_bus)
        bus.subscribe("test.idle", [EVENT_TYPE], effect_handler("test.idle"))
        await bus.start()
        # The consumer's pull loop finds nothing for a few 1 s fetches; in a real
        # process it idles for hours. (The hang needs one fetch whose timeout
        # status arrives late, which takes 1-3 fetches here.)
        await asyncio.sleep(6)
        began = time.monotonic()
        forced = await shutdown(bus, patience=3)  # a healthy stop takes milliseconds
        return forced, time.monotonic() - began

    forced, elapsed = asyncio.run(scenario())
    assert not forced, f"Bus.stop() had not returned after {elapsed:.1f}s"


# 9 --------------------------------------------------------------------------


@pytest.mark.parametrize("lease_seconds", [30.0, 0.0], ids=["leased", "no-lease"])
def test_two_relays_and_two_replicas_act_once_per_event(pg_url, open_db, nats_bus, lease_seconds):
    """Two processes, each relaying the one outbox and running the same consumer.

    With a zero lease both relays publish the same rows; the broker's
    de-duplication and the inbox must still make every event act once.
    """
    factory = open_db(pg_url)
    calls: list[str] = []

    async def scenario() -> list[str]:
        buses = [make_bus(factory, nats_bus) for _ in range(2)]
        for bus in buses:
            bus.relay.lease = timedelta(seconds=lease_seconds)
            bus.subscribe("test.replica", [EVENT_TYPE], effect_handler("test.replica", calls))
        for bus in buses:
            await bus.start()
        try:
            ids: list[str] = []
            for _ in range(4):
                ids += await asyncio.to_thread(emit_events, factory, 5)
                await asyncio.sleep(0.03)
            await eventually(lambda: len(effects(factory, "test.replica")) == len(ids))
            await eventually(lambda: unpublished(factory) == 0)
            await asyncio.sleep(0.5)
            assert await stream_messages(nats_bus, nats_of(buses[0]).stream) == len(ids)
        finally:
            await shutdown(*buses)
        return ids

    ids = asyncio.run(scenario())
    assert len(ids) == 20
    assert effects(factory, "test.replica") == {i: 1 for i in ids}
    assert Counter(calls) == {i: 1 for i in ids}
    assert all(r.published_at is not None and r.dead_at is None for r in outbox_rows(factory))


# Publishing failures ---------------------------------------------------------


def test_publishing_failures_are_retried_never_dead_lettered(pg_url, open_db, nats_bus):
    """The broker refusing events is not the event's fault: it waits, it is not given up."""
    factory = open_db(pg_url)
    max_attempts = nats_bus.event_max_attempts

    async def scenario() -> None:
        bus = make_bus(factory, nats_bus)  # relay only
        await bus.start()
        transport = bus.transport
        assert isinstance(transport, NatsTransport)
        nc = await nats.connect(nats_bus.event_bus_url, connect_timeout=3)
        js = nc.jetstream()
        try:
            await js.delete_stream(transport.stream)  # now nothing accepts the events
            (event_id,) = await asyncio.to_thread(emit_events, factory, 1)
            await eventually(
                lambda: outbox_row(factory, event_id).attempts > max_attempts, timeout=5
            )
            row = await asyncio.to_thread(outbox_row, factory, event_id)
            assert row.dead_at is None
            assert row.published_at is None
            assert row.last_error
            assert await asyncio.to_thread(dead_letters, factory) == []

            await js.add_stream(  # the broker is back
                StreamConfig(
                    name=transport.stream,
                    subjects=[f"{nats_bus.event_bus_prefix}.events.>"],
                    storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW_SECONDS,
                )
            )
            await eventually(lambda: published_at(factory, event_id), timeout=5)
            assert await stream_messages(nats_bus, transport.stream) == 1
        finally:
            await nc.close()
            await shutdown(bus)

    asyncio.run(scenario())
    (row,) = outbox_rows(factory)
    assert row.dead_at is None
    assert row.last_error is None
