"""Shared fixtures: real databases (SQLite, PostgreSQL), a real NATS, the demo county.

PostgreSQL and NATS tests are mandatory under CI=true: an unreachable service
fails them there. Locally they skip, saying why.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILE = ROOT / "shared" / "demo" / "qinghe_county.json"
TIME_LIMITS_FILE = ROOT / "shared" / "demo" / "qinghe_time_limits.json"
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET = "test-secret-key-not-for-production"
# Days a date-sensitive test runs from (10:00 in Beijing): a whole ordinary week, Monday
# to Sunday, and the eve of the National Day holiday. A test that only passes on some
# weekdays fails here on every day it runs.
SAMPLE_START_DAYS = (
    "2026-11-16",
    "2026-11-17",
    "2026-11-18",
    "2026-11-19",
    "2026-11-20",
    "2026-11-21",
    "2026-11-22",
    "2026-09-30",
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Fail under CI, skip locally, when a service the test needs is down."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; under CI=true the {name} tests are mandatory")
    pytest.skip(f"{message} (start it as the README says; mandatory under CI)")


@pytest.fixture(params=SAMPLE_START_DAYS)
def start_day(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """The test runs as if it started on each sample day in turn (the whole process's
    clock is moved; it runs on from there)."""
    from shared.timeutil import CHINA, travel_to

    moment = datetime.fromisoformat(f"{request.param}T10:00:00").replace(tzinfo=CHINA)
    with travel_to(moment):
        yield moment


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINFANG_SECRET_KEY", TEST_SECRET)
    # the tests' webhook receivers listen on loopback, which only the allow-list opens
    monkeypatch.setenv("NOTIFY_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1,localhost,::1")


def _migrate(url: str) -> None:
    from services.migrate import upgrade

    upgrade(url)


class Templates:
    """A database migrated once per test session and backend (from nothing, by the
    real migrations); each test gets its own copy: a SQLite backup, or CREATE DATABASE
    … TEMPLATE on PostgreSQL. Much quicker than migrating afresh for every test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sqlite: Path | None = None
        self.postgres: str | None = None
        self.base = PG_ADMIN_URL.rsplit("/", 1)[0]
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def sqlite_copy(self, target: Path) -> str:
        if self.sqlite is None:
            path = self.directory / "template.sqlite3"
            _migrate(f"sqlite:///{path}")
            self.sqlite = path
        source, copy = sqlite3.connect(self.sqlite), sqlite3.connect(target)
        try:
            source.backup(copy)  # the WAL's content included
        finally:
            source.close()
            copy.close()
        return f"sqlite:///{target}"

    def postgres_copy(self) -> tuple[str, str]:
        if self.postgres is None:
            name = f"xinfang_tpl_{uuid.uuid4().hex[:12]}"
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            self.postgres = name
            _migrate(f"{self.base}/{name}")
        name = f"xinfang_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            self._terminate(conn, self.postgres)
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.postgres}"'))
        return name, f"{self.base}/{name}"

    def _terminate(self, conn: Any, name: str) -> None:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            self._terminate(conn, name)
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))

    def close(self) -> None:
        if self.postgres is not None:
            self.drop(self.postgres)
        self.admin.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("templates"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def sqlite_url(templates: Templates, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database."""
    return templates.sqlite_copy(tmp_path / "xinfang.sqlite3")


@pytest.fixture
def pg_url(templates: Templates) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name, url = templates.postgres_copy()
    try:
        yield url
    finally:
        templates.drop(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each database-backed test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def nats_url() -> str:
    require_service("NATS", "127.0.0.1", 4222)
    return NATS_URL


@pytest.fixture
def bus_prefix() -> str:
    """A stream/subject prefix of this test's own, so tests never see each other's events."""
    return f"xftest{uuid.uuid4().hex[:10]}"


def load_demo(url: str) -> None:
    from deadline_scheduler.policies import read_time_limits_file, store_time_limits
    from shared.db import make_engine, make_session_factory, transaction
    from shared.directory import load_directory_file

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        load_directory_file(session, DEMO_FILE)
        # As `make run` does: the demo county's own handling limits by level.
        store_time_limits(session, read_time_limits_file(TIME_LIMITS_FILE), str(TIME_LIMITS_FILE))
    engine.dispose()


def make_token(url: str, unit_id: str, role: str) -> str:
    from shared.db import make_engine, make_session_factory, transaction
    from shared.security import create_token

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        _, token = create_token(session, unit_id=unit_id, role=role)
    engine.dispose()
    return token


def make_api_key(
    url: str,
    system: str,
    jurisdiction: str = "990101000000",
    reads: str = "own",
    channels: tuple[str, ...] = ("hotline",),
    unit_id: str | None = None,
) -> str:
    """A key of `system`, registered (by default) for the demo county, reading its own."""
    from shared.db import make_engine, make_session_factory, transaction
    from shared.security import create_api_key

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        _, key = create_api_key(
            session,
            system=system,
            jurisdiction=jurisdiction,
            reads=reads,
            channels=channels,
            unit_id=unit_id,
        )
    engine.dispose()
    return key
