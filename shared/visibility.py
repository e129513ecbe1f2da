"""Who may see a petition: one policy, in one place, for every read path.

Visibility is granted, never merely subtracted. What a petition's scope records
(its type and place, the units barred from it, the units with a part in it) is
written by the service that decides it, in the transaction that decides it:
intake writes the scope, the barred units and the registering bureau with the
petition; routing writes the lead and assisting units with its decision;
casework writes the review bodies and leaders with its steps. Any reader, in
any service, asks `visible_petitions` (a subquery) or `may_see` (one petition)
and gets the same answer.

- Staff see what their unit's jurisdiction covers: the cases their unit, or a
  unit below it in the unit tree, registered, leads, assists, reviews (and, for
  leaders and admins, is in charge of: 包案). A petition bureau also sees every
  petition of the places it serves (its division and those within it).
- A report (检举控告) is seen only by the units handling it (the discipline
  organ; the review bodies), the petition bureau that registered it, a leader
  they put in charge of it, and the units above those — never by the accused unit, any unit below it, or the
  units at the same place (arts. 30, 46): those are barred, whatever else holds.
- An external system sees the petitions it pushed; with `reads=jurisdiction`
  also the others of its jurisdiction; a report only if it is the own system of
  a unit handling it.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    and_,
    delete,
    exists,
    false,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base, UTCDateTime
from shared.directory import Directory, UnitRow
from shared.errors import ProblemError
from shared.security import Principal
from shared.timeutil import utcnow

REPORT = "report"
BARRED = "barred"
# The parts a unit may have in a petition.
PARTS = (
    "barred",
    "registered",
    "lead",
    "assisting",
    "review",
    "re_examination",
    "leader",
    # addressed by the urging ladder beyond the unit tree (an accountability
    # recommendation to the discipline organ)
    "urged",
)
# Who handles a report: its lead unit (the discipline organ), the review bodies.
HANDLING_PARTS = ("lead", "review", "re_examination")
INVOLVED_PARTS = ("registered", "lead", "assisting", "review", "re_examination", "urged")
# A leader's charge of a case (包案) opens it to that unit's leaders and admins.
LEADER_ROLES = ("leader", "admin")
# Never "at the place" of an accused: the organs a report goes to.
PROTECTED_FUNCTIONS = frozenset({"discipline", "petition_bureau"})
# The roles that may read a petitioner's full personal data inside their jurisdiction:
# registrars call petitioners back, admins answer for the data.
PERSONAL_DATA_ROLES = ("registrar", "admin")


# --- tables -----------------------------------------------------------------------


class PetitionScope(Base):
    """What decides who may see a petition, written with the petition."""

    __tablename__ = "petition_scope"

    petition_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    # The system that pushed it (its own tickets are always its to read).
    source_system: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # …and its own reference for it: a system finds its ticket by (system, reference).
    external_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The unit a report accuses, as given or as derived from the position and place;
    # None for other types, and for a report whose accused could not be placed.
    accused_unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_petition_scope_source_ref", "source_system", "external_ref"),)


class PetitionPart(Base):
    """A unit's part in a petition (PARTS): who registered, leads, assists, reviews,
    is in charge of it — or is barred from it."""

    __tablename__ = "petition_part"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    unit_id: Mapped[str] = mapped_column(String(100))
    part: Mapped[str] = mapped_column(String(20))

    __table_args__ = (
        UniqueConstraint("petition_id", "unit_id", "part"),
        # a unit's cases, from what the policy knows: the unit and the part
        Index("ix_petition_part_unit_part", "unit_id", "part", "petition_id"),
    )


# --- the accused, and who is barred -----------------------------------------------


@dataclass(frozen=True)
class PositionWords:
    """How a position a petitioner writes (村党支部书记, 县人社局局长) places the accused:
    words of levels (lowest first), the government of each level, words of functions."""

    levels: tuple[tuple[str, tuple[str, ...]], ...]
    governments: Mapping[str, str]
    functions: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_file(cls, path: Path) -> PositionWords:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            levels=tuple((x["level"], tuple(x["words"])) for x in doc["levels"]),
            governments=dict(doc["governments"]),
            functions={k: tuple(v) for k, v in doc["functions"].items()},
        )


POSITIONS_FILE = Path(__file__).with_name("accused_positions.json")


@cache
def default_position_words() -> PositionWords:
    return PositionWords.from_file(POSITIONS_FILE)


def _named_place(text: str, directory: Directory, near: str) -> str | None:
    """The division whose name the text contains (the longest; one in the same county
    as `near` first), e.g. 红星村 in 红星村党支部书记."""
    county = directory.division_at(near, "county")
    local = directory.divisions_under(county.code) if county else frozenset()
    found = [d for d in directory.divisions.values() if len(d.name) >= 2 and d.name in text]
    if not found:
        return None
    found.sort(key=lambda d: (d.code in local, len(d.name)), reverse=True)
    return found[0].code


def _level_of(text: str, words: PositionWords) -> str | None:
    return next((level for level, ws in words.levels if any(w in text for w in ws)), None)


def _unit_at_or_above(
    directory: Directory, place: str, function: str, lowest: str | None
) -> UnitRow | None:
    """The unit of `function` at the place's level `lowest` (or the place itself), else
    at the nearest place above that has one."""
    places = directory.ancestors(place)
    if lowest is not None:
        at = directory.division_at(place, lowest)
        if at is not None:
            places = directory.ancestors(at.code)
    return next((u for d in places if (u := directory.unit_with(d.code, function))), None)


def derive_accused(
    accused: Mapping[str, Any] | None,
    division_code: str,
    directory: Directory,
    words: PositionWords | None = None,
) -> str | None:
    """The unit a report accuses: its `unit_id` when given, otherwise the unit the
    position names at the place it names or the petition's place ("村党支部书记" of a
    petition at 红星村 is 红星村's village committee). None when it cannot be placed."""
    if not accused:
        return None
    given = accused.get("unit_id")
    if given and given in directory.units:
        return str(given)
    text = unicodedata.normalize("NFKC", str(accused.get("position") or ""))
    if not text.strip():
        return None
    words = words or default_position_words()
    place = _named_place(text, directory, division_code) or division_code
    if place not in directory.divisions:
        return None
    for function, names in words.functions.items():
        hit = next((w for w in names if w in text), None)
        if hit is not None:
            level = _level_of(text.replace(hit, ""), words)
            unit = _unit_at_or_above(directory, place, function, level or "county")
            if unit is not None:
                return unit.id
    level = _level_of(text, words) or directory.divisions[place].level
    government = words.governments.get(level)
    at = directory.division_at(place, level)
    if government is None or at is None:
        return None
    unit = directory.unit_with(at.code, government)
    return unit.id if unit else None


def _around(directory: Directory, division_code: str) -> set[str]:
    """The units at a place, but for the organs a report goes to; for a village also
    the government of its township (villages have no departments of their own)."""
    out = {
        u.id
        for u in directory.units.values()
        if u.division_code == division_code and u.function not in PROTECTED_FUNCTIONS
    }
    place = directory.divisions.get(division_code)
    if place is not None and place.level == "village":
        township = directory.division_at(division_code, "township")
        if township is not None:
            out |= {
                u.id
                for u in directory.units.values()
                if u.division_code == township.code and u.function == "township_gov"
            }
    return out


def barred_units(accused_unit: str | None, division_code: str, directory: Directory) -> set[str]:
    """The units a report never reaches: the accused unit, every unit below it, the
    units at its place; where the accused could not be placed, the units of the
    petition's place (arts. 30, 46)."""
    unit = directory.units.get(accused_unit or "")
    if unit is None:
        return _around(directory, division_code)
    return set(directory.below(unit.id)) | _around(directory, unit.division_code)


def registering_bureau(
    directory: Directory, *, registrar_unit: str | None, addressed_to: str, division_code: str
) -> str | None:
    """The petition bureau that registered a petition: the registrar's own bureau, the
    bureau it was addressed to, or the bureau of the county of its place."""
    for candidate in (registrar_unit, addressed_to):
        unit = directory.units.get(candidate or "")
        if unit is not None and unit.function == "petition_bureau":
            return unit.id
    bureau = directory.bureau_over(division_code)
    return bureau.id if bureau else None


# --- writing the scope ------------------------------------------------------------


def record_scope(
    session: Session,
    *,
    petition_id: str,
    type: str,
    division_code: str,
    accused: Mapping[str, Any] | None,
    registered_unit: str | None,
    source_system: str | None,
    directory: Directory,
    external_ref: str | None = None,
) -> PetitionScope:
    """Written with the petition, in its transaction: before anyone can read it."""
    accused_unit = derive_accused(accused, division_code, directory) if type == REPORT else None
    scope = PetitionScope(
        petition_id=petition_id,
        type=type,
        division_code=division_code,
        source_system=source_system,
        external_ref=external_ref,
        accused_unit=accused_unit,
        created_at=utcnow(),
    )
    session.add(scope)
    if registered_unit:
        set_parts(session, petition_id, "registered", [registered_unit], replace=True)
    if type == REPORT:
        barred = barred_units(accused_unit, division_code, directory)
        set_parts(session, petition_id, BARRED, sorted(barred), replace=True)
    return scope


def set_parts(
    session: Session, petition_id: str, part: str, unit_ids: Iterable[str], *, replace: bool
) -> None:
    """Record which units have `part` in the petition (replacing the earlier ones, or
    adding to them)."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}")
    wanted = list(dict.fromkeys(u for u in unit_ids if u))
    if replace:
        session.execute(
            delete(PetitionPart).where(
                PetitionPart.petition_id == petition_id, PetitionPart.part == part
            )
        )
        known: set[str] = set()
    else:
        known = set(
            session.scalars(
                select(PetitionPart.unit_id).where(
                    PetitionPart.petition_id == petition_id, PetitionPart.part == part
                )
            )
        )
    for unit_id in wanted:
        if unit_id not in known:
            session.add(PetitionPart(petition_id=petition_id, unit_id=unit_id, part=part))
    session.flush()


def barred_from(session: Session, petition_id: str) -> set[str]:
    return set(
        session.scalars(
            select(PetitionPart.unit_id).where(
                PetitionPart.petition_id == petition_id, PetitionPart.part == BARRED
            )
        )
    )


# --- reading: the policy ----------------------------------------------------------


def _part_in(units: Iterable[str], parts: Iterable[str]) -> Any:
    return exists().where(
        PetitionPart.petition_id == PetitionScope.petition_id,
        PetitionPart.unit_id.in_(sorted(units)),
        PetitionPart.part.in_(tuple(parts)),
    )


def _not_barred(unit_id: str | None) -> Any:
    if not unit_id:
        return True
    return ~exists().where(
        PetitionPart.petition_id == PetitionScope.petition_id,
        PetitionPart.unit_id == unit_id,
        PetitionPart.part == BARRED,
    )


def _staff_clause(unit: UnitRow, role: str | None, directory: Directory) -> Any:
    mine = directory.below(unit.id)
    leads = ("leader",) if role in LEADER_ROLES else ()
    ordinary = _part_in(mine, INVOLVED_PARTS + leads)
    if unit.function == "petition_bureau":
        ordinary = or_(
            ordinary,
            PetitionScope.division_code.in_(sorted(directory.divisions_under(unit.division_code))),
        )
    # a leader put in charge of a report by those who see it sees it too: the grant is
    # theirs, on record, and never to a barred unit (casework refuses that)
    report = _part_in(mine, (*HANDLING_PARTS, "registered", *leads))
    return and_(
        _not_barred(unit.id),
        or_(
            and_(PetitionScope.type != REPORT, ordinary),
            and_(PetitionScope.type == REPORT, report),
        ),
    )


def _system_clause(who: Principal, directory: Directory) -> Any:
    ordinary = PetitionScope.source_system == who.system
    if who.reads == "jurisdiction" and who.jurisdiction:
        served = directory.divisions_under(who.jurisdiction)
        ordinary = or_(ordinary, PetitionScope.division_code.in_(sorted(served)))
    owner = directory.units.get(who.unit_id or "")
    report = (
        and_(_not_barred(owner.id), _part_in(directory.below(owner.id), HANDLING_PARTS))
        if owner is not None
        else false()
    )
    return or_(
        and_(PetitionScope.type != REPORT, ordinary),
        and_(PetitionScope.type == REPORT, report),
    )


def visibility_clause(who: Principal, directory: Directory) -> Any:
    """The condition on `PetitionScope` that holds for the petitions `who` may see."""
    if who.is_staff:
        unit = directory.units.get(who.unit_id or "")
        return false() if unit is None else _staff_clause(unit, who.role, directory)
    if who.is_system:
        return _system_clause(who, directory)
    return false()


def visible_petitions(who: Principal, directory: Directory) -> Select[tuple[str]]:
    """The ids of the petitions `who` may see: use as `column.in_(...)`."""
    return select(PetitionScope.petition_id).where(visibility_clause(who, directory))


def ticket_of(session: Session, source_system: str, external_ref: str) -> str | None:
    """The petition another system pushed as `external_ref`."""
    return session.scalar(
        select(PetitionScope.petition_id).where(
            PetitionScope.source_system == source_system,
            PetitionScope.external_ref == external_ref,
        )
    )


def may_see(session: Session, who: Principal, petition_id: str, directory: Directory) -> bool:
    query = visible_petitions(who, directory).where(PetitionScope.petition_id == petition_id)
    return session.scalar(select(exists(query))) is True


def may_read_personal_data(
    session: Session, who: Principal, petition_id: str, directory: Directory
) -> bool:
    """Full personal data: staff in the roles that need it, inside their jurisdiction."""
    return (
        who.is_staff
        and who.role in PERSONAL_DATA_ROLES
        and may_see(session, who, petition_id, directory)
    )


def owns_county_powers(
    who: Principal, directory: Directory, jurisdiction: str | None = None
) -> bool:
    """Powers over a whole county (rulesets, time limits, ladders, webhooks) belong to
    its petition bureau's admins: an admin of a petition bureau whose place contains
    `jurisdiction` (or any place, when none is named)."""
    if not who.is_staff or who.role != "admin":
        return False
    unit = directory.units.get(who.unit_id or "")
    if unit is None or unit.function != "petition_bureau":
        return False
    return jurisdiction is None or jurisdiction in directory.divisions_under(unit.division_code)


def require_county_power(who: Principal, directory: Directory, jurisdiction: str) -> None:
    """A 403 unless `who` is an admin of a petition bureau serving `jurisdiction`."""
    if not owns_county_powers(who, directory, jurisdiction):
        place = directory.divisions.get(jurisdiction)
        raise ProblemError(
            403,
            f"只有{place.name if place else jurisdiction}信访局的管理员可以进行此操作"
            "（规则集、办理时限、催办阶梯、事件推送订阅属于县级信访局的权限）",
        )


def serves(who: Principal, directory: Directory, jurisdiction: str) -> bool:
    """Staff whose unit lies in `jurisdiction`, or above it (a city's units over its
    counties): the places whose policies they may read."""
    unit = directory.units.get(who.unit_id or "") if who.is_staff else None
    if unit is None:
        return False
    return unit.division_code in directory.divisions_under(
        jurisdiction
    ) or jurisdiction in directory.divisions_under(unit.division_code)


def unit_principal(unit_id: str, role: str = "handler") -> Principal:
    """The staff of a unit in a role, as the policy sees them: whom a notice or a
    subscription of that unit speaks for."""
    return Principal(0, "token", unit_id=unit_id, role=role)


def barred_petitions(unit_id: str) -> Select[tuple[str]]:
    """The ids of the reports `unit_id` is barred from."""
    return select(PetitionPart.petition_id).where(
        PetitionPart.unit_id == unit_id, PetitionPart.part == BARRED
    )


def covers_unit(who: Principal, unit_id: str, directory: Directory) -> bool:
    """Whether `who`'s jurisdiction takes in a unit: the caller's own unit and those
    below it; for a petition bureau, every unit of the places it serves."""
    mine = directory.units.get(who.unit_id or "") if who.is_staff else None
    unit = directory.units.get(unit_id)
    if mine is None or unit is None:
        return False
    if unit.id in directory.below(mine.id):
        return True
    return mine.function == "petition_bureau" and unit.division_code in directory.divisions_under(
        mine.division_code
    )
