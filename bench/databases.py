"""The benchmarks' databases: a temporary SQLite file, or a PostgreSQL database of
their own beside `test` (dropped before and after), each migrated by the caller."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_BENCH_DB = "xinfang_bench"


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="xinfang-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _pg_drop(admin: Engine) -> None:
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": PG_BENCH_DB},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}"'))


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of the bench's own beside `test`, dropped afterwards."""
    admin = _pg_admin()
    try:
        _pg_drop(admin)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{PG_BENCH_DB}"'))
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_BENCH_DB}"
    finally:
        _pg_drop(admin)
        admin.dispose()


DATABASES: dict[str, Callable[[], AbstractContextManager[str]]] = {
    "sqlite": sqlite_database,
    "postgres": postgres_database,
}


def postgres_reachable() -> bool:
    url = PG_ADMIN_URL.split("@", 1)[-1].split("/", 1)[0]
    host, _, port = url.partition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 5432)), timeout=1):
            return True
    except OSError:
        return False
