"""The embedded bus: the outbox is the log, the relay delivers in process.

What a user would notice: an event of a committed change reaches every
subscriber once; an event of a rolled-back change never does; a consumer
that fails is retried, then dead-lettered, without starving the others; and
a process that dies anywhere between commit and delivery loses nothing and
acts on nothing twice.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.orm import Session

from shared.bus import Bus
from shared.bus.embedded import EmbeddedTransport
from shared.db import transaction
from shared.events import Envelope, emit, handle_once
from tests.shared.bus.support import (
    EVENT_TYPE,
    OTHER_TYPE,
    SERVICE,
    bus_settings,
    dead_letters,
    effect_handler,
    effects,
    emit_events,
    eventually,
    find_outbox_row,
    inbox,
    outbox_row,
    outbox_rows,
    published_at,
    record_effect,
    unpublished,
)


def make_bus(factory, **kwargs) -> Bus:
    return Bus(factory, EmbeddedTransport(), bus_settings(), **kwargs)


# 1 --------------------------------------------------------------------------


def test_committed_event_is_delivered_once_and_rolled_back_event_never(db_url, open_db):
    factory = open_db(db_url)
    calls: list[Envelope] = []

    def handler(session: Session, envelope: Envelope) -> None:
        calls.append(envelope)
        record_effect(session, "test.seen", envelope)

    def commit_one() -> Envelope:
        with transaction(factory) as session:
            return emit(
                session, type=EVENT_TYPE, service=SERVICE, subject="case-1", data={"title": "工资"}
            )

    def roll_back_one() -> str:
        try:
            with transaction(factory) as session:
                ghost = emit(session, type=EVENT_TYPE, service=SERVICE, subject="case-2", data={})
                session.flush()  # the row reached the database, then the change failed
                raise RuntimeError("the state change failed")
        except RuntimeError:
            return ghost.id
        raise AssertionError("unreachable")

    async def scenario() -> tuple[Envelope, str]:
        bus = make_bus(factory)
        bus.subscribe("test.seen", [EVENT_TYPE], handler)
        bus.subscribe("test.other", [OTHER_TYPE], effect_handler("test.other"))
        await bus.start()
        try:
            ghost_id = await asyncio.to_thread(roll_back_one)
            sent = await asyncio.to_thread(commit_one)
            await eventually(lambda: published_at(factory, sent.id))
            await asyncio.sleep(0.3)  # more relay passes: nothing arrives a second time
        finally:
            await bus.stop()
        return sent, ghost_id

    sent, ghost_id = asyncio.run(scenario())

    assert [e.id for e in calls] == [sent.id]
    got = calls[0]
    assert got.type == EVENT_TYPE
    assert got.source == "/xinfang/" + SERVICE
    assert got.subject == "case-1"
    assert got.data == {"title": "工资"}
    assert effects(factory, "test.seen") == {sent.id: 1}
    assert effects(factory, "test.other") == {}  # a type nobody else asked for
    assert inbox(factory, "test.seen") == {sent.id: 1}
    assert [r.event_id for r in outbox_rows(factory)] == [sent.id]
    assert find_outbox_row(factory, ghost_id) is None


# 2 --------------------------------------------------------------------------


def test_failing_handler_is_retried_and_acts_once(db_url, open_db):
    factory = open_db(db_url)
    calls: list[str] = []

    def flaky(session: Session, envelope: Envelope) -> None:
        calls.append(envelope.id)
        record_effect(session, "test.flaky", envelope)  # rolled back with the failure
        if len(calls) <= 2:
            raise ConnectionError(f"downstream unavailable (call {len(calls)})")

    (event_id,) = emit_events(factory, 1)

    async def scenario() -> None:
        bus = make_bus(factory)
        bus.subscribe("test.flaky", [EVENT_TYPE], flaky)
        await bus.start()
        try:
            await eventually(lambda: published_at(factory, event_id))
            await asyncio.sleep(0.2)
        finally:
            await bus.stop()

    asyncio.run(scenario())

    assert calls == [event_id] * 3
    assert effects(factory, "test.flaky") == {event_id: 1}
    assert inbox(factory, "test.flaky") == {event_id: 1}
    row = outbox_row(factory, event_id)
    assert row.published_at is not None
    assert row.attempts == 2
    assert row.dead_at is None
    assert row.last_error is None
    assert dead_letters(factory) == []


# 3 --------------------------------------------------------------------------


def test_always_failing_handler_is_dead_lettered_without_starving_others(db_url, open_db):
    factory = open_db(db_url)
    broken_calls: list[str] = []
    good_calls: list[str] = []

    def broken(session: Session, envelope: Envelope) -> None:
        broken_calls.append(envelope.id)
        record_effect(session, "test.broken", envelope)
        raise ValueError("malformed division code 99")

    (event_id,) = emit_events(factory, 1)

    async def scenario() -> None:
        bus = make_bus(factory)
        bus.subscribe("test.broken", [EVENT_TYPE], broken)
        bus.subscribe("test.good", [EVENT_TYPE], effect_handler("test.good", good_calls))
        await bus.start()
        try:
            await eventually(lambda: outbox_row(factory, event_id).dead_at)
            await asyncio.sleep(0.4)  # a dead event is not tried again
        finally:
            await bus.stop()

    asyncio.run(scenario())

    row = outbox_row(factory, event_id)
    assert row.dead_at is not None
    assert row.published_at is None
    assert row.attempts == 3
    assert broken_calls == [event_id] * 3
    assert good_calls == [event_id]
    assert effects(factory, "test.good") == {event_id: 1}
    assert effects(factory, "test.broken") == {}
    assert inbox(factory, "test.broken") == {}

    (dead,) = dead_letters(factory)
    assert dead.consumer == "test.broken"
    assert dead.event_id == event_id
    assert dead.event_type == EVENT_TYPE
    assert dead.attempts == 3
    assert "ValueError" in dead.error and "malformed division code 99" in dead.error
    assert dead.envelope["id"] == event_id
    assert Envelope.from_json(dead.envelope).type == EVENT_TYPE


# 4 --------------------------------------------------------------------------


def test_handle_once_runs_the_handler_once_per_consumer(db_url, open_db):
    factory = open_db(db_url)
    calls: list[str] = []
    handler = effect_handler("test.once", calls)
    envelope = Envelope(type=EVENT_TYPE, source="/xinfang/test", subject="s", data={})

    assert handle_once(factory, "test.once", handler, envelope) is True
    assert handle_once(factory, "test.once", handler, envelope) is False
    # the same envelope re-read from the wire is still the same event
    again = Envelope.from_json(envelope.to_json())
    assert handle_once(factory, "test.once", handler, again) is False

    assert calls == [envelope.id]
    assert effects(factory, "test.once") == {envelope.id: 1}
    assert inbox(factory, "test.once") == {envelope.id: 1}

    # the inbox is per consumer: another consumer still acts on it
    assert handle_once(factory, "test.twice", effect_handler("test.twice"), envelope) is True
    assert effects(factory, "test.twice") == {envelope.id: 1}


def test_handle_once_failure_leaves_no_trace_so_a_retry_acts(db_url, open_db):
    factory = open_db(db_url)
    envelope = Envelope(type=EVENT_TYPE, source="/xinfang/test", subject="s", data={})

    def failing(session: Session, env: Envelope) -> None:
        record_effect(session, "test.retry", env)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        handle_once(factory, "test.retry", failing, envelope)
    assert inbox(factory, "test.retry") == {}
    assert effects(factory, "test.retry") == {}

    assert handle_once(factory, "test.retry", effect_handler("test.retry"), envelope) is True
    assert effects(factory, "test.retry") == {envelope.id: 1}


# 5 --------------------------------------------------------------------------


def test_events_survive_a_process_that_died_before_relaying(db_url, open_db):
    factory = open_db(db_url)
    calls: list[str] = []
    # The "process" committed its changes and events, then died: no bus ever ran.
    ids = emit_events(factory, 4)
    assert unpublished(factory) == 4

    async def scenario() -> None:
        bus = make_bus(factory)  # the process, restarted
        bus.subscribe("test.late", [EVENT_TYPE], effect_handler("test.late", calls))
        await bus.start()
        try:
            await eventually(lambda: unpublished(factory) == 0)
            await asyncio.sleep(0.2)
        finally:
            await bus.stop()

    asyncio.run(scenario())

    assert sorted(calls) == sorted(ids)
    assert calls == ids  # in outbox order
    assert effects(factory, "test.late") == {i: 1 for i in ids}


def test_crash_after_handler_commit_before_relay_mark_does_not_act_twice(db_url, open_db):
    factory = open_db(db_url)
    done_calls: list[str] = []
    fresh_calls: list[str] = []
    (event_id,) = emit_events(factory, 1)
    row = outbox_row(factory, event_id)
    envelope = Envelope.from_json(row.envelope)

    # The first process delivered the event: "test.done" committed its handler and
    # inbox row; then the process died before the relay marked the row published.
    assert handle_once(factory, "test.done", effect_handler("test.done"), envelope) is True
    assert outbox_row(factory, event_id).published_at is None

    async def scenario() -> None:
        bus = make_bus(factory)
        bus.subscribe("test.done", [EVENT_TYPE], effect_handler("test.done", done_calls))
        bus.subscribe("test.fresh", [EVENT_TYPE], effect_handler("test.fresh", fresh_calls))
        await bus.start()
        try:
            await eventually(lambda: published_at(factory, event_id))
            await asyncio.sleep(0.2)
        finally:
            await bus.stop()

    asyncio.run(scenario())

    assert done_calls == []  # already handled: the inbox skips it
    assert fresh_calls == [event_id]  # the consumer that had not handled it does now
    assert effects(factory, "test.done") == {event_id: 1}
    assert effects(factory, "test.fresh") == {event_id: 1}
    row = outbox_row(factory, event_id)
    assert row.published_at is not None
    assert row.dead_at is None
    assert row.attempts == 0


def test_restarted_embedded_bus_keeps_delivering(sqlite_url, open_db):
    factory = open_db(sqlite_url)
    calls: list[str] = []

    async def scenario() -> tuple[str, str]:
        bus = make_bus(factory)
        bus.subscribe("test.restart", [EVENT_TYPE], effect_handler("test.restart", calls))
        await bus.start()
        (first,) = await asyncio.to_thread(emit_events, factory, 1)
        await eventually(lambda: effects(factory, "test.restart")[first])
        await bus.stop()
        await bus.start()
        try:
            (second,) = await asyncio.to_thread(emit_events, factory, 1)
            await eventually(lambda: effects(factory, "test.restart")[second], timeout=4)
        finally:
            await bus.stop()
        return first, second

    first, second = asyncio.run(scenario())
    assert calls == [first, second]
