"""Sweep cost: the deadline sweep's cost must grow with what is due, not with what is
open. Seeds 10,000 open deadlines, all with a stage due, then 1,000,000 open
deadlines with the same 10,000 due (the rest next due months ahead), times one
sweep of each and prints both times and their ratio (target: within 2x), on SQLite
and on PostgreSQL. One run, fresh migrated database per measurement.

    make bench        (or: .venv/bin/python -m bench.sweep [--open N] [--due N] [--backend B])
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select

from bench.databases import DATABASES, PG_ADMIN_URL, postgres_reachable
from deadline_scheduler.clock import compute_due
from deadline_scheduler.ladder import LADDERS, due_stages, next_stage_at
from deadline_scheduler.models import Deadline, DeadlineStage
from deadline_scheduler.policies import DEFAULT_POLICIES, StepPolicy
from deadline_scheduler.sweep import sweep
from services.migrate import upgrade
from shared.calendar import OfficialCalendar
from shared.db import make_engine, make_session_factory, transaction
from shared.directory import load_directory_file
from shared.timeutil import CHINA

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "shared" / "demo" / "qinghe_county.json"
# A Wednesday with no holiday near: the sweep runs as of this instant.
NOW = datetime(2026, 12, 9, 10, 0, tzinfo=CHINA)
N_OPEN = 1_000_000
N_DUE = 10_000
TARGET = 2.0
# How the sweep's claim query shows in the SQL sent (both dialects render it so).
CLAIM_MARK = "ORDER BY deadline.next_stage_at"
CHUNK = 10_000
UNITS = (
    "qinghe.hrss",
    "qinghe.housing",
    "qinghe.natural_resources",
    "qinghe.education",
    "qinghe.health",
    "qinghe.agriculture",
    "qinghe.civil_affairs",
)
COLUMNS = (
    "petition_id",
    "step",
    "unit_id",
    "started_at",
    "due_at",
    "state",
    "provisional",
    "basis",
    "opened_by_event",
    "next_stage_at",
)


@dataclass(frozen=True)
class Template:
    """An open deadline as `open_deadline` would have left it, minus its identity."""

    step: str
    started_at: datetime
    due_at: datetime
    provisional: bool
    basis: dict[str, Any]
    next_stage_at: datetime


@dataclass(frozen=True)
class Run:
    backend: str
    open: int
    due: int
    seed_seconds: float
    sweep_seconds: float
    cpu_seconds: float  # this process's CPU during the sweep (all of it, on SQLite)
    claim_seconds: float  # in the claim query: what must not grow with what is open
    issued: int


def _template(policy: StepPolicy, started_at: datetime, calendar: OfficialCalendar) -> Template:
    due = compute_due(started_at, policy.length, policy.unit, calendar)
    ladder = LADDERS[policy.ladder]
    upcoming = next_stage_at(due.due_at, set(), ladder, calendar)
    assert upcoming is not None
    basis = {
        **due.basis,
        "policy": policy.name,
        "article": policy.article,
        "level": "county",
        "ladder": policy.ladder,
        "local_limit": False,
        "state_before_pause": None,
    }
    return Template(policy.step, started_at, due.due_at, due.provisional, basis, upcoming)


def templates(calendar: OfficialCalendar) -> tuple[list[Template], list[Template]]:
    """Deadlines with exactly one stage (the reminder) due at NOW, and deadlines whose
    first stage is a month or more after NOW."""
    due: list[Template] = []
    for back in range(1, 40):  # "accept" (15 days), started in the last weeks
        t = _template(DEFAULT_POLICIES["accept"], NOW - timedelta(days=back, hours=1), calendar)
        ready, _ = due_stages(t.due_at, set(), NOW, LADDERS["default"], calendar)
        if [s.name for s in ready] == ["reminded"]:
            due.append(t)
    later: list[Template] = []
    for back in range(0, 10):  # "handle" (60 days), accepted in the last days
        t = _template(DEFAULT_POLICIES["handle"], NOW - timedelta(days=back, hours=2), calendar)
        if t.next_stage_at >= NOW + timedelta(days=30):
            later.append(t)
    if not due or not later:
        raise RuntimeError("bench: the calendar around NOW yields no due or no later deadlines")
    return due, later


def rows(
    n_open: int,
    n_due: int,
    calendar: OfficialCalendar,
    render: Callable[[Template], dict[str, Any]],
) -> Iterator[tuple[Any, ...]]:
    """`n_open` open deadlines in COLUMNS order, `n_due` of them (the ones with a stage
    due) spread evenly through the table. `render` gives a template's column values
    as the backend stores them, worked out once per template."""
    due, later = ([render(t) for t in pool] for pool in templates(calendar))
    every = n_open / n_due
    next_due = 0.0
    placed = 0
    for i in range(n_open):
        if placed < n_due and i >= next_due:
            values = due[placed % len(due)]
            placed += 1
            next_due += every
        else:
            values = later[i % len(later)]
        values["petition_id"] = str(uuid.UUID(int=i + 1))
        values["unit_id"] = UNITS[i % len(UNITS)]
        values["opened_by_event"] = str(uuid.UUID(int=(1 << 64) + i))
        yield tuple(values[c] for c in COLUMNS)


def batched(it: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in it:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _values(t: Template) -> dict[str, Any]:
    return {
        "step": t.step,
        "started_at": t.started_at,
        "due_at": t.due_at,
        "state": "open",
        "provisional": t.provisional,
        "basis": t.basis,
        "next_stage_at": t.next_stage_at,
    }


def seed(engine: Engine, n_open: int, n_due: int, calendar: OfficialCalendar) -> None:
    """The demo county's directory (the sweep addresses its notices by it) and the
    deadlines: COPY on PostgreSQL, executemany in chunks on SQLite; then statistics."""
    with transaction(make_session_factory(engine)) as session:
        load_directory_file(session, DEMO)
    if engine.dialect.name == "postgresql":

        def as_copied(t: Template) -> dict[str, Any]:
            return {**_values(t), "basis": json.dumps(t.basis, ensure_ascii=False)}

        _seed_copy(engine, rows(n_open, n_due, calendar, as_copied))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        return
    dialect = engine.dialect
    table = Deadline.__table__
    # The columns' own bind processing (UTCDateTime, JSON, Boolean), applied once per
    # template: the rows are stored exactly as the ORM stores them.
    processors = {c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in COLUMNS}

    def as_stored(t: Template) -> dict[str, Any]:
        return {
            c: (processors[c](v) if processors[c] else v)  # type: ignore[misc]
            for c, v in _values(t).items()
        }

    sql = f"INSERT INTO deadline ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    with engine.begin() as conn:
        for chunk in batched(rows(n_open, n_due, calendar, as_stored), CHUNK):
            conn.exec_driver_sql(sql, chunk)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("PRAGMA optimize")


def _seed_copy(engine: Engine, source: Iterator[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        with pg.cursor() as cur, cur.copy(f"COPY deadline ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for row in source:
                cp.write_row(row)
        pg.commit()
    finally:
        raw.close()


@contextmanager
def claim_timer(engine: Engine) -> Iterator[list[float]]:
    """Seconds spent executing the sweep's claim query, batch after batch."""
    spent = [0.0]

    def before(conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if CLAIM_MARK in statement:
            conn.info["bench_claim_start"] = time.perf_counter()

    def after(conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if CLAIM_MARK in statement:
            spent[0] += time.perf_counter() - conn.info.pop("bench_claim_start")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def measure(backend: str, url: str, n_open: int, n_due: int) -> Run:
    """Seed a fresh migrated database at `url`, then time one sweep as of NOW."""
    calendar = OfficialCalendar()
    upgrade(url)
    engine = make_engine(url)
    try:
        start = time.perf_counter()
        seed(engine, n_open, n_due, calendar)
        seeded = time.perf_counter() - start
        factory = make_session_factory(engine)
        with engine.connect() as conn:  # the pool holds a connection: not timed below
            conn.execute(select(1))
        with claim_timer(engine) as claimed:
            start, cpu = time.perf_counter(), time.process_time()
            issued = sweep(factory, now=NOW, calendar=calendar)
            swept, cpu = time.perf_counter() - start, time.process_time() - cpu
        with engine.connect() as conn:
            stages = conn.scalar(select(func.count()).select_from(DeadlineStage))
            left = conn.scalar(
                select(func.count())
                .select_from(Deadline)
                .where(Deadline.next_stage_at <= NOW.astimezone(UTC))
            )
        if issued != n_due or stages != n_due or left != 0:
            raise RuntimeError(
                f"bench: {backend} at {n_open:,} open issued {issued} stages "
                f"({stages} recorded, {left} still due), expected {n_due}"
            )
        return Run(backend, n_open, n_due, seeded, swept, cpu, claimed[0], issued)
    finally:
        engine.dispose()


def print_run(run: Run) -> None:
    print(
        f"  {run.backend:<9} {run.open:>14,} {run.due:>8,} {run.seed_seconds:>9.1f}"
        f" {run.sweep_seconds:>9.2f} {run.cpu_seconds:>9.2f} {run.claim_seconds:>9.2f}"
        f" {run.issued / run.sweep_seconds:>9.0f}"
    )


def bench_backend(backend: str, sizes: Sequence[int], n_due: int) -> list[Run]:
    """One sweep per size, each on a fresh database; prints each row as it comes."""
    runs = []
    for n_open in sizes:
        with DATABASES[backend]() as url:
            run = measure(backend, url, n_open, n_due)
        print_run(run)
        runs.append(run)
    return runs


def ratio_line(runs: list[Run]) -> str:
    small, big = runs[0], runs[-1]
    ratio = big.sweep_seconds / small.sweep_seconds
    verdict = "met" if ratio <= TARGET else "NOT MET"
    return (
        f"  {small.backend:<9} ratio {big.open:,} / {small.open:,} open: sweep {ratio:.2f}x "
        f"(target within {TARGET:.0f}x: {verdict}); "
        f"claim {big.claim_seconds / small.claim_seconds:.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n")[0])
    p.add_argument("--open", type=int, default=N_OPEN, help=f"open deadlines, default {N_OPEN:,}")
    p.add_argument("--due", type=int, default=N_DUE, help=f"due among them, default {N_DUE:,}")
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = p.parse_args(argv)
    if not 0 < args.due <= args.open:
        p.error("--due must be positive and at most --open")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    wall = time.perf_counter()
    print(
        f"sweep: {args.due:,} due among {args.due:,}, then {args.open:,} open deadlines; "
        f"one sweep each as of {NOW.isoformat()}"
    )
    print(
        f"  {'backend':<9} {'open':>14} {'due':>8} {'seed s':>9} {'sweep s':>9} {'cpu s':>9}"
        f" {'claim s':>9} {'stages/s':>9}"
    )
    ratios = []
    for backend in backends:
        if backend == "postgres" and not postgres_reachable():
            print(f"  postgres  skipped: not reachable at {PG_ADMIN_URL}")
            continue
        ratios.append(ratio_line(bench_backend(backend, [args.due, args.open], args.due)))
    for line in ratios:
        print(line)
    print(f"wall time: {time.perf_counter() - wall:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
