"""`bench.statistics` at a tiny size, so the benchmark cannot silently rot: it seeds a
migrated SQLite database and times what `make bench` times at a million."""

from __future__ import annotations

from bench.databases import sqlite_database
from bench.statistics import measure


def test_the_statistics_bench_counts_what_it_seeded() -> None:
    with sqlite_database() as url:
        run = measure("sqlite", url, 400, repeats=3)
    assert run.petitions == 400
    assert run.month_p50 > 0 and run.annual_p50 > 0
    assert run.csv_rows > 0 and run.csv_rows_per_second > 0
