"""The notify bench runs, and what it counts was really delivered (the bench itself
asserts every notice reached the receiver and is recorded delivered)."""

from __future__ import annotations

from bench.databases import sqlite_database
from bench.notify import measure


def test_the_notify_bench_delivers_every_notice() -> None:
    with sqlite_database() as url:
        run = measure("SQLite", url, 20)
    assert run.notices == 20
    assert 0 < run.network_seconds < run.seconds
    assert 0 < run.outside_share < 1
