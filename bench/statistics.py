"""Statistics at a county's scale: seeds a year of petitions (default 1,000,000) with
realistic outcomes straight into the reporting read model and the visibility scope,
then times, as the county petition bureau's supervisor, a month grouped by unit x
category and the year's annual report (p50/p99), and counts the rows per second of
a streamed CSV export of the year by day x unit x category. SQLite and PostgreSQL,
one run, a fresh migrated database each. The aim: the month's p99 under 300 ms on
PostgreSQL.

    make bench        (or: .venv/bin/python -m bench.statistics [--petitions N] [--backend B])
"""

from __future__ import annotations

import argparse
import random
import statistics as stats
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.databases import DATABASES, postgres_reachable
from services.migrate import upgrade
from services.reporting import exports
from services.reporting.annual import annual_report
from services.reporting.measures import Query
from services.reporting.models import ReportDeadline, ReportPetition
from services.reporting.service import statistics
from shared.db import make_engine, make_session_factory, transaction
from shared.directory import load_directory_file, load_snapshot
from shared.security import Principal
from shared.timeutil import CHINA
from shared.visibility import PetitionPart, PetitionScope

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "shared" / "demo" / "qinghe_county.json"
YEAR = 2026
NOW = datetime(YEAR + 1, 1, 15, 10, 0, tzinfo=CHINA)
N_PETITIONS = 1_000_000
CHUNK = 20_000
BUREAU = Principal(0, "token", unit_id="qinghe.petition_bureau", role="supervisor")
UNITS = (
    ("qinghe.hrss", "labor.wage_arrears", "county"),
    ("qinghe.housing", "housing.property", "county"),
    ("qinghe.natural_resources", "land.requisition", "county"),
    ("qinghe.education", "education.school", "county"),
    ("qinghe.qingshi.gov", "village.affairs", "township"),
    ("qinghe.baisha.gov", "land.contract", "township"),
    ("qinghe.qingshi.hongxing", "neighbour.dispute", "village"),
)
CHANNELS = ("web", "miniprogram", "qr", "hotline", "mail", "visit")
RATINGS = ("satisfied", "satisfied", "basically_satisfied", "dissatisfied")


@dataclass
class Run:
    backend: str
    petitions: int
    seed_seconds: float
    month_p50: float
    month_p99: float
    annual_p50: float
    annual_p99: float
    csv_rows: int
    csv_rows_per_second: float


def _rows(n: int, rng: random.Random) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    start = datetime(YEAR, 1, 1, 9, 0, tzinfo=CHINA)
    for i in range(n):
        received = start + timedelta(minutes=rng.randrange(365 * 24 * 60 - 24 * 60))
        unit, category, level = UNITS[i % len(UNITS)]
        replied = received + timedelta(days=rng.randrange(3, 40)) if rng.random() < 0.85 else None
        rated = replied is not None and rng.random() < 0.6
        pid = f"{i:08d}-bench-0000-0000-000000000000"[:36]
        petition = {
            "petition_id": pid,
            "received_at": received,
            "received_on": received.date(),
            "channel": CHANNELS[i % len(CHANNELS)],
            "type": "complaint" if i % 10 else "suggestion",
            "category": category,
            "division_code": "990101100201",
            "people_count": 6 if i % 50 == 0 else 1,
            "repeat_of": None,
            "repeated_at": None,
            "routing_round": 1,
            "decision": "refer_down" if i % 40 == 0 else "assign",
            "lead_unit": unit,
            "lead_level": level,
            "collective": i % 50 == 0,
            "skip_level": i % 40 == 0,
            "replied_at": replied,
            "replied_on": replied.date() if replied else None,
            "rating": RATINGS[i % len(RATINGS)] if rated else None,
            "evaluated_on": (replied + timedelta(days=2)).date() if rated and replied else None,
            "review_requested_at": replied + timedelta(days=5) if replied and i % 25 == 0 else None,
            "reviewed_on": None,
            "re_examination_requested_at": None,
        }
        clocks = []
        for step, days in (("forward", 15), ("accept", 15), ("handle", 30)):
            due = received + timedelta(days=days)
            met = (
                received + timedelta(days=rng.randrange(0, days + 10))
                if replied or step != "handle"
                else None
            )
            clocks.append(
                {
                    "petition_id": pid,
                    "step": step,
                    "base_step": step,
                    "unit_id": unit,
                    "due_at": due,
                    "due_on": due.date(),
                    "state": "met" if met else "supervised",
                    "opened_at": received,
                    "met_at": met,
                    "late": bool(met and met > due),
                    "reminded_at": due - timedelta(days=3) if not met or met > due else None,
                    "urged_at": due if not met or met > due else None,
                    "supervised_at": due + timedelta(days=1) if not met else None,
                    "accountability_at": None,
                }
            )
        yield petition, clocks


def seed(url: str, n: int) -> float:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        load_directory_file(session, DEMO)
    rng = random.Random(7)
    started = time.perf_counter()
    petitions: list[dict[str, Any]] = []
    clocks: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(ReportPetition), petitions)
            conn.execute(insert(ReportDeadline), clocks)
            conn.execute(
                insert(PetitionScope),
                [
                    {
                        "petition_id": p["petition_id"],
                        "type": p["type"],
                        "division_code": p["division_code"],
                        "source_system": None,
                        "external_ref": None,
                        "accused_unit": None,
                        "created_at": p["received_at"],
                    }
                    for p in petitions
                ],
            )
            conn.execute(
                insert(PetitionPart),
                [
                    row
                    for p in petitions
                    for row in (
                        {
                            "petition_id": p["petition_id"],
                            "unit_id": "qinghe.petition_bureau",
                            "part": "registered",
                        },
                        {
                            "petition_id": p["petition_id"],
                            "unit_id": p["lead_unit"],
                            "part": "lead",
                        },
                    )
                ],
            )
        petitions.clear()
        clocks.clear()

    for petition, its_clocks in _rows(n, rng):
        petitions.append(petition)
        clocks.extend(its_clocks)
        if len(petitions) >= CHUNK:
            flush()
    if petitions:
        flush()
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return stats.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(backend: str, url: str, n: int, repeats: int = 20) -> Run:
    upgrade(url)
    seed_seconds = seed(url, n)
    engine = make_engine(url)
    factory = make_session_factory(engine)

    def query(start: date, end: date, group_by: tuple[str, ...]) -> Query:
        return Query(start=start, end=end, group_by=group_by, now=NOW)

    with factory() as session:
        directory = load_snapshot(session)

        def answer(q: Query) -> dict[str, Any]:
            return statistics(session, who=BUREAU, directory=directory, query=q, unit_id=None)

        month = []
        for _ in range(repeats):
            began = time.perf_counter()
            answer(query(date(YEAR, 11, 1), date(YEAR, 11, 30), ("unit", "category")))
            month.append(time.perf_counter() - began)
        annual = []
        for _ in range(max(3, repeats // 5)):
            began = time.perf_counter()
            annual_report(YEAR, answer, query)
            annual.append(time.perf_counter() - began)
        began = time.perf_counter()
        year = answer(query(date(YEAR, 1, 1), date(YEAR, 12, 31), ("day", "unit", "category")))
        rows = sum(1 for _ in exports.csv_lines(["day", "unit", "category"], year["groups"])) - 1
        csv_seconds = time.perf_counter() - began
    engine.dispose()
    m50, m99 = _percentiles(month)
    a50, a99 = _percentiles(annual)
    return Run(backend, n, seed_seconds, m50, m99, a50, a99, rows, rows / csv_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--petitions", type=int, default=N_PETITIONS)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_reachable():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: measuring SQLite only")
        backends = [b for b in backends if b != "postgres"]
    print(f"statistics over {args.petitions:,} petitions of one county-year")
    print(
        "| backend | seed | month by unit x category p50 / p99 | annual report p50 / p99 | CSV of the year |"
    )
    print("| --- | --- | --- | --- | --- |")
    for backend in backends:
        with DATABASES[backend]() as url:
            run = measure(backend, url, args.petitions)
        print(
            f"| {run.backend} | {run.seed_seconds:.1f} s | {run.month_p50 * 1000:.0f} / "
            f"{run.month_p99 * 1000:.0f} ms | {run.annual_p50 * 1000:.0f} / {run.annual_p99 * 1000:.0f} ms "
            f"| {run.csv_rows:,} rows, {run.csv_rows_per_second:,.0f} rows/s |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
