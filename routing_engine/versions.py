"""Ruleset versions in the database: save (validated), test (golden cases), activate,
roll back; every step audited. Used by the API and the CLI alike."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing_engine.models import RulesetAudit, RulesetVersion
from routing_engine.rules.engine import Ruleset
from routing_engine.rules.golden import run_golden
from shared.directory import Directory
from shared.errors import ProblemError, not_found
from shared.timeutil import utcnow


def _audit(session: Session, row: RulesetVersion, action: str, actor: str, **detail: Any) -> None:
    session.add(
        RulesetAudit(
            ruleset_id=row.id,
            jurisdiction=row.jurisdiction,
            action=action,
            actor=actor,
            at=utcnow(),
            detail=detail,
        )
    )


def save(session: Session, *, doc: dict[str, Any], jurisdiction: str, actor: str) -> RulesetVersion:
    """Store a ruleset after validating it whole (RulesetError names every fault)."""
    ruleset = Ruleset.from_doc(doc)
    existing = session.scalar(
        select(RulesetVersion).where(
            RulesetVersion.jurisdiction == jurisdiction,
            RulesetVersion.version == ruleset.version,
            RulesetVersion.digest == ruleset.digest,
        )
    )
    if existing is not None:
        return existing
    row = RulesetVersion(
        jurisdiction=jurisdiction,
        version=ruleset.version,
        digest=ruleset.digest,
        doc=ruleset.doc,
        state="validated",
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    _audit(session, row, "saved", actor, label=ruleset.label)
    return row


def get(session: Session, ruleset_id: int) -> RulesetVersion:
    row = session.get(RulesetVersion, ruleset_id)
    if row is None:
        raise not_found(f"规则集版本 {ruleset_id} ")
    return row


def test(session: Session, *, row: RulesetVersion, directory: Directory, actor: str) -> bool:
    """Run the version's golden cases against the directory; True if all pass."""
    results = run_golden(Ruleset.from_doc(row.doc), directory)
    row.golden_report = [asdict(r) for r in results]
    passed = bool(results) and all(r.passed for r in results)
    if row.state in ("validated", "tested"):
        row.state = "tested" if passed else "validated"
    _audit(
        session,
        row,
        "tested",
        actor,
        passed=passed,
        cases=len(results),
        directory_version=directory.version,
    )
    return passed


def active(session: Session, jurisdiction: str) -> RulesetVersion | None:
    return session.scalar(
        select(RulesetVersion).where(
            RulesetVersion.jurisdiction == jurisdiction, RulesetVersion.state == "active"
        )
    )


def activate(
    session: Session, *, row: RulesetVersion, directory: Directory, actor: str
) -> RulesetVersion:
    """Make a version live. Its golden cases are run again now, against today's
    directory: a version that no longer passes does not go live."""
    if row.state == "active":
        return row
    if not test(session, row=row, directory=directory, actor=actor):
        failed = [r["name"] for r in row.golden_report or [] if not r["passed"]]
        raise ProblemError(
            409,
            "黄金用例未全部通过，不能启用："
            + ("、".join(failed) if failed else "该版本没有黄金用例"),
            extra={"golden_report": row.golden_report},
        )
    current = active(session, row.jurisdiction)
    if current is not None:
        current.state = "retired"
        session.flush()  # one active at a time: retire before the new one goes live
    row.state = "active"
    row.activated_at = utcnow()
    _audit(session, row, "activated", actor, replaced=current.id if current else None)
    return row


def rollback(
    session: Session, *, jurisdiction: str, directory: Directory, actor: str
) -> RulesetVersion:
    """Re-activate the version that was live before the current one."""
    current = active(session, jurisdiction)
    if current is None:
        raise ProblemError(409, f"辖区 {jurisdiction} 没有启用中的规则集，无从回退")
    previous = session.scalar(
        select(RulesetVersion)
        .where(
            RulesetVersion.jurisdiction == jurisdiction,
            RulesetVersion.state == "retired",
            RulesetVersion.activated_at.is_not(None),
        )
        .order_by(RulesetVersion.activated_at.desc())
        .limit(1)
    )
    if previous is None:
        raise ProblemError(409, "没有更早启用过的版本可以回退")
    current.state = "retired"
    session.flush()
    previous.state = "active"
    previous.activated_at = utcnow()
    _audit(session, previous, "rolled_back", actor, from_version=current.id)
    return previous


def audit_trail(session: Session, jurisdiction: str) -> list[RulesetAudit]:
    return list(
        session.scalars(
            select(RulesetAudit)
            .where(RulesetAudit.jurisdiction == jurisdiction)
            .order_by(RulesetAudit.id)
        )
    )


_parsed: dict[int, Ruleset] = {}


def jurisdiction_of(directory: Directory, division_code: str) -> str:
    """A ruleset governs a county: the county division of the place."""
    county = directory.division_at(division_code, "county")
    return county.code if county else ""


def ruleset_for(
    session: Session, *, directory: Directory, division_code: str, default: Ruleset
) -> Ruleset:
    """The active version of the place's county, else the shipped default."""
    jurisdiction = jurisdiction_of(directory, division_code)
    row = active(session, jurisdiction) if jurisdiction else None
    if row is None:
        return default
    if row.id not in _parsed:
        _parsed[row.id] = Ruleset.from_doc(row.doc)
    return _parsed[row.id]
