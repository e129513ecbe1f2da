"""Pure routing fixtures: a `Directory` snapshot of the demo county, no database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from routing_engine.facts import compute_facts
from routing_engine.rules.engine import Decision, Ruleset, decide
from routing_engine.service import load_ruleset
from shared.directory import (
    CategoryRow,
    Directory,
    DirectoryFile,
    DivisionRow,
    UnitRow,
    parse_directory_file,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = ROOT / "shared" / "demo" / "qinghe_county.json"
DEFAULT_RULESET = ROOT / "routing_engine" / "rulesets" / "default.json"

HONGXING = "990101100201"  # 青石镇红星村
HEKOU = "990101101202"  # 白沙镇河口村
QINGSHI = "990101100000"  # 青石镇


@cache
def demo_file() -> DirectoryFile:
    return parse_directory_file(DEMO_FILE.read_text(encoding="utf-8"))


def build_directory(*, without_units: Iterable[str] = ()) -> Directory:
    """The demo county as a snapshot, optionally minus some units."""
    parsed = demo_file()
    dropped = set(without_units)
    return Directory(
        version=1,
        divisions={
            d.code: DivisionRow(d.code, d.name, d.level, d.parent) for d in parsed.divisions
        },
        units={
            u.id: UnitRow(
                u.id, u.name, u.kind, u.level, u.division, u.parent, u.function, dict(u.contact)
            )
            for u in parsed.units
            if u.id not in dropped
        },
        categories={
            c.code: CategoryRow(c.code, c.name, c.function, c.level, c.legal_channel)
            for c in parsed.categories
        },
    )


@cache
def demo_directory() -> Directory:
    return build_directory()


@pytest.fixture
def directory() -> Directory:
    return demo_directory()


@pytest.fixture(scope="session")
def ruleset() -> Ruleset:
    return load_ruleset(DEFAULT_RULESET)


def petition(**fields: Any) -> dict[str, Any]:
    """A `petition.received`-shaped payload: a one-person web complaint in 红星村."""
    base: dict[str, Any] = {
        "petition_id": "00000000-0000-0000-0000-000000000001",
        "type": "complaint",
        "category": "labor.wage_arrears",
        "division_code": HONGXING,
        "people_count": 1,
        "channel": "web",
    }
    base.update(fields)
    return base


@pytest.fixture
def route(ruleset: Ruleset, directory: Directory) -> Callable[..., Decision]:
    """route(**petition_fields, _directory=...) -> Decision under the default ruleset."""

    def _route(_directory: Directory | None = None, **fields: Any) -> Decision:
        return decide(ruleset, compute_facts(petition(**fields), _directory or directory))

    return _route
