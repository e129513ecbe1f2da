"""Fixtures for the event bus tests: real databases, a real NATS (see tests/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import BusSettings
from shared.db import make_engine, make_session_factory
from tests.shared.bus.support import EFFECT_TABLE_DDL, bus_settings


@pytest.fixture
def open_db() -> Iterator[Callable[[str], sessionmaker[Session]]]:
    """Open a migrated database (from a db fixture), with the side-effect table added."""
    engines: list[Engine] = []

    def _open(url: str) -> sessionmaker[Session]:
        engine = make_engine(url)
        engines.append(engine)
        with engine.begin() as conn:
            conn.execute(text(EFFECT_TABLE_DDL))
        return make_session_factory(engine)

    yield _open
    for engine in engines:
        engine.dispose()


async def _delete_streams(url: str, names: list[str]) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        for name in names:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)
    finally:
        await nc.close()


@pytest.fixture
def nats_bus(nats_url: str, bus_prefix: str) -> Iterator[BusSettings]:
    """Bus settings on the real NATS with this test's own prefix; its streams deleted after."""
    from shared.bus.nats import NatsTransport

    settings = bus_settings(nats_url, bus_prefix)
    names = NatsTransport(nats_url, prefix=bus_prefix)
    yield settings
    asyncio.run(_delete_streams(nats_url, [names.stream, names.dlq_stream]))
