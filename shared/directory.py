"""The directory: administrative divisions, units and content categories.

Files shaped like `demo/qinghe_county.json` load here. Loading is all or
nothing and idempotent; a malformed file is refused with the line at fault.
`Directory` is an immutable in-memory snapshot with indexes, for the hot
paths (routing) that must not query the database per look-up.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base, UTCDateTime
from shared.jsonlines import LocatedJSON, path_text
from shared.timeutil import utcnow

LEVELS: tuple[str, ...] = ("national", "province", "city", "county", "township", "village")
LEVEL_NAMES = {
    "national": "国家",
    "province": "省级",
    "city": "市级",
    "county": "县级",
    "township": "乡镇（街道）级",
    "village": "村（社区）级",
}
LEGAL_CHANNELS = ("litigation", "arbitration", "administrative_reconsideration", "police")
Level = Literal["national", "province", "city", "county", "township", "village"]


def level_rank(level: str) -> int:
    """0 for the highest level (national), 5 for villages."""
    return LEVELS.index(level)


# --- tables -----------------------------------------------------------------------


class Division(Base):
    __tablename__ = "division"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("division.code"), nullable=True, index=True
    )


class Unit(Base):
    __tablename__ = "unit"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(20))
    division_code: Mapped[str] = mapped_column(String(12), ForeignKey("division.code"), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    function: Mapped[str] = mapped_column(String(50), index=True)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Category(Base):
    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    function: Mapped[str] = mapped_column(String(50))
    level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    legal_channel: Mapped[str | None] = mapped_column(String(50), nullable=True)
    # Words that point a petition's text to this category (editable per county).
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)


class DirectoryVersion(Base):
    """Bumped by every load that changes something, so snapshots know when to refresh."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(500), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- the file format ---------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class DivisionIn(_Strict):
    code: str = Field(pattern=r"^\d{12}$")
    name: str = Field(min_length=1, max_length=100)
    level: Level
    parent: str | None = None


class UnitIn(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=100)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=50)
    level: Level
    division: str = Field(pattern=r"^\d{12}$")
    parent: str | None = None
    function: str = Field(min_length=1, max_length=50)
    contact: dict[str, Any] = Field(default_factory=dict)


class CategoryIn(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=100)
    name: str = Field(min_length=1, max_length=200)
    function: str = Field(min_length=1, max_length=50)
    level: Level | None = None
    legal_channel: (
        Literal["litigation", "arbitration", "administrative_reconsideration", "police"] | None
    ) = None
    keywords: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list)


class DirectoryFile(_Strict):
    name: str = ""
    timezone: str = "Asia/Shanghai"
    divisions: list[DivisionIn] = Field(min_length=1)
    units: list[UnitIn] = Field(default_factory=list)
    categories: list[CategoryIn] = Field(default_factory=list)


class DirectoryFileError(ValueError):
    """A directory file that cannot be loaded; `problems` are `(line, path, message)`."""

    def __init__(self, problems: list[tuple[int | None, str, str]]) -> None:
        self.problems = problems
        super().__init__(
            "\n".join(
                f"第 {line} 行 {path}：{msg}" if line else f"{path}：{msg}"
                for line, path, msg in problems
            )
        )


def parse_directory_file(text: str) -> DirectoryFile:
    """Parse and check a directory file; raises DirectoryFileError naming the lines at fault."""
    try:
        located = LocatedJSON(text)
    except json.JSONDecodeError as exc:
        raise DirectoryFileError(
            [(exc.lineno, f"第 {exc.colno} 列", f"不是合法的 JSON（{exc.msg}）")]
        ) from exc
    try:
        parsed = DirectoryFile.model_validate(located.doc)
    except ValidationError as exc:
        from shared.errors import pydantic_errors_to_fields

        problems: list[tuple[int | None, str, str]] = []
        for err, fe in zip(
            exc.errors(), pydantic_errors_to_fields(exc.errors(), drop_location=False), strict=True
        ):
            loc = tuple(err["loc"])
            problems.append((located.line_of_path(loc), path_text(loc), fe["message"]))
        raise DirectoryFileError(problems) from exc
    faults = check_references(parsed)
    if faults:
        raise DirectoryFileError(
            [(located.line_of_path(path), path_text(path), msg) for path, msg in faults]
        )
    return parsed


def check_references(d: DirectoryFile) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-references inside the file: parents exist, levels nest, no duplicates."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    divisions = {x.code: x for x in d.divisions}
    units = {x.id: x for x in d.units}
    seen: set[str] = set()
    for i, div in enumerate(d.divisions):
        if div.code in seen:
            problems.append((("divisions", i, "code"), f"区划代码 {div.code} 重复"))
        seen.add(div.code)
        if div.parent is not None:
            parent = divisions.get(div.parent)
            if parent is None:
                problems.append((("divisions", i, "parent"), f"上级区划 {div.parent} 不存在"))
            elif level_rank(parent.level) >= level_rank(div.level):
                problems.append(
                    (("divisions", i, "level"), f"{div.name}的层级须低于上级区划{parent.name}")
                )
    seen = set()
    for i, unit in enumerate(d.units):
        if unit.id in seen:
            problems.append((("units", i, "id"), f"单位编号 {unit.id} 重复"))
        seen.add(unit.id)
        home = divisions.get(unit.division)
        if home is None:
            problems.append((("units", i, "division"), f"所在区划 {unit.division} 不存在"))
        elif home.level != unit.level:
            problems.append(
                (("units", i, "level"), f"单位层级 {unit.level} 与所在区划层级 {home.level} 不符")
            )
        if unit.parent is not None and unit.parent not in units:
            problems.append((("units", i, "parent"), f"上级单位 {unit.parent} 不存在"))
    functions = {u.function for u in d.units}
    seen = set()
    for i, cat in enumerate(d.categories):
        if cat.code in seen:
            problems.append((("categories", i, "code"), f"类别代码 {cat.code} 重复"))
        seen.add(cat.code)
        if functions and cat.function not in functions:
            problems.append((("categories", i, "function"), f"没有任何单位承担职能 {cat.function}"))
    return problems


def _upsert(session: Session, model: type[Base], key: str, values: dict[str, Any]) -> str:
    row = session.get(model, values[key])
    if row is None:
        session.add(model(**values))
        return "created"
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return "updated" if changed else "unchanged"


def load_directory(session: Session, d: DirectoryFile, *, source: str = "") -> dict[str, int]:
    """Create or update every division, unit and category of the file, in the caller's
    transaction. Returns counts by outcome; loading the same file twice changes nothing."""
    counts: dict[str, int] = defaultdict(int)
    # Parents before children, so the foreign keys hold at every flush.
    for div in sorted(d.divisions, key=lambda x: level_rank(x.level)):
        values: dict[str, Any] = {
            "code": div.code,
            "name": div.name,
            "level": div.level,
            "parent_code": div.parent,
        }
        counts[_upsert(session, Division, "code", values)] += 1
        session.flush()
    for unit in d.units:
        values = {
            "id": unit.id,
            "name": unit.name,
            "kind": unit.kind,
            "level": unit.level,
            "division_code": unit.division,
            "parent_id": unit.parent,
            "function": unit.function,
            "contact": unit.contact,
        }
        counts[_upsert(session, Unit, "id", values)] += 1
    for cat in d.categories:
        values = cat.model_dump()
        counts[_upsert(session, Category, "code", values)] += 1
    if counts["created"] or counts["updated"]:
        meta = session.get(DirectoryVersion, 1)
        if meta is None:
            session.add(DirectoryVersion(id=1, version=1, source=source, loaded_at=utcnow()))
        else:
            meta.version += 1
            meta.source = source
            meta.loaded_at = utcnow()
    return {k: counts.get(k, 0) for k in ("created", "updated", "unchanged")}


def load_directory_file(session: Session, path: Path) -> dict[str, int]:
    return load_directory(
        session, parse_directory_file(path.read_text(encoding="utf-8")), source=str(path)
    )


def directory_is_empty(session: Session) -> bool:
    return session.scalar(select(Division.code).limit(1)) is None


# --- the snapshot -----------------------------------------------------------------


@dataclass(frozen=True)
class DivisionRow:
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class UnitRow:
    id: str
    name: str
    kind: str
    level: str
    division_code: str
    parent_id: str | None
    function: str
    contact: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class CategoryRow:
    code: str
    name: str
    function: str
    level: str | None
    legal_channel: str | None
    keywords: tuple[str, ...] = ()


@dataclass
class Directory:
    """An immutable view of the directory with the indexes routing needs."""

    version: int
    divisions: dict[str, DivisionRow]
    units: dict[str, UnitRow]
    categories: dict[str, CategoryRow]
    _by_division_function: dict[tuple[str, str], list[UnitRow]] = field(default_factory=dict)
    _below: dict[str, frozenset[str]] = field(default_factory=dict)
    _divisions_under: dict[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[UnitRow]] = defaultdict(list)
        for unit in sorted(self.units.values(), key=lambda u: u.id):
            index[(unit.division_code, unit.function)].append(unit)
        self._by_division_function = dict(index)
        # The trees, walked once per snapshot: who is below whom, which places lie within
        # which (the hot paths of the visibility policy ask these for every request).
        children: dict[str, list[str]] = defaultdict(list)
        for unit in self.units.values():
            if unit.parent_id and unit.parent_id != unit.id:
                children[unit.parent_id].append(unit.id)
        self._below = {u: _closure(u, children) for u in self.units}
        sub_divisions: dict[str, list[str]] = defaultdict(list)
        for div in self.divisions.values():
            if div.parent_code and div.parent_code != div.code:
                sub_divisions[div.parent_code].append(div.code)
        self._divisions_under = {d: _closure(d, sub_divisions) for d in self.divisions}

    def below(self, unit_id: str) -> frozenset[str]:
        """The unit and every unit under it in the unit tree (empty for an unknown unit)."""
        return self._below.get(unit_id, frozenset())

    def superiors(self, unit_id: str) -> list[str]:
        """The units above `unit_id` in the unit tree, nearest first."""
        out: list[str] = []
        current = self.units.get(unit_id)
        while current is not None and current.parent_id and current.parent_id not in out:
            out.append(current.parent_id)
            current = self.units.get(current.parent_id)
        return out

    def divisions_under(self, code: str) -> frozenset[str]:
        """The division and every division within it (empty for an unknown code)."""
        return self._divisions_under.get(code, frozenset())

    def ancestors(self, code: str) -> list[DivisionRow]:
        """The division and its ancestors, nearest first."""
        out: list[DivisionRow] = []
        current = self.divisions.get(code)
        while current is not None and len(out) < len(LEVELS):
            out.append(current)
            current = self.divisions.get(current.parent_code) if current.parent_code else None
        return out

    def division_at(self, code: str, level: str) -> DivisionRow | None:
        """The ancestor (or self) of `code` at `level`."""
        return next((d for d in self.ancestors(code) if d.level == level), None)

    def units_with(self, division_code: str, function: str) -> list[UnitRow]:
        return self._by_division_function.get((division_code, function), [])

    def unit_with(self, division_code: str, function: str) -> UnitRow | None:
        found = self.units_with(division_code, function)
        return found[0] if found else None

    def bureau_over(self, code: str) -> UnitRow | None:
        """The petition bureau nearest at or above a place (its county's, else the
        city's)."""
        return next(
            (b for d in self.ancestors(code) if (b := self.unit_with(d.code, "petition_bureau"))),
            None,
        )

    def full_name(self, code: str) -> str:
        """'示范省示范市清河县青石镇红星村' style, from the top down."""
        return "".join(d.name for d in reversed(self.ancestors(code)))


def _closure(root: str, children: dict[str, list[str]]) -> frozenset[str]:
    seen: set[str] = set()
    stack = [root]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(children.get(current, ()))
    return frozenset(seen)


def snapshot_of(d: DirectoryFile, version: int = 0) -> Directory:
    """A snapshot straight from a parsed file, without a database (offline tools, tests)."""
    return Directory(
        version=version,
        divisions={x.code: DivisionRow(x.code, x.name, x.level, x.parent) for x in d.divisions},
        units={
            u.id: UnitRow(
                u.id, u.name, u.kind, u.level, u.division, u.parent, u.function, u.contact
            )
            for u in d.units
        },
        categories={
            c.code: CategoryRow(
                c.code, c.name, c.function, c.level, c.legal_channel, tuple(c.keywords)
            )
            for c in d.categories
        },
    )


def load_snapshot(session: Session) -> Directory:
    meta = session.get(DirectoryVersion, 1)
    return Directory(
        version=meta.version if meta else 0,
        divisions={
            d.code: DivisionRow(d.code, d.name, d.level, d.parent_code)
            for d in session.scalars(select(Division))
        },
        units={
            u.id: UnitRow(
                u.id,
                u.name,
                u.kind,
                u.level,
                u.division_code,
                u.parent_id,
                u.function,
                u.contact or {},
            )
            for u in session.scalars(select(Unit))
        },
        categories={
            c.code: CategoryRow(
                c.code, c.name, c.function, c.level, c.legal_channel, tuple(c.keywords or ())
            )
            for c in session.scalars(select(Category))
        },
    )


class DirectoryCache:
    """Keeps one snapshot per process and reloads it when the stored version moves."""

    def __init__(self) -> None:
        self._snapshot: Directory | None = None

    def get(self, session: Session) -> Directory:
        meta = session.get(DirectoryVersion, 1)
        version = meta.version if meta else 0
        if self._snapshot is None or self._snapshot.version != version:
            self._snapshot = load_snapshot(session)
        return self._snapshot
