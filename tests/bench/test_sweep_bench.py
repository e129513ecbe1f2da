"""`bench.sweep` at a tiny size, so the benchmark cannot silently rot: it seeds a fresh
migrated SQLite database, sweeps and checks what `make bench` measures at a million."""

from __future__ import annotations

import pytest

from bench.sweep import bench_backend


def test_the_sweep_bench_issues_exactly_what_is_due(capsys: pytest.CaptureFixture[str]) -> None:
    [run] = bench_backend("sqlite", [200], 50)
    assert (run.backend, run.open, run.due, run.issued) == ("sqlite", 200, 50, 50)
    assert run.sweep_seconds > 0
    assert "200" in capsys.readouterr().out  # the table's row
