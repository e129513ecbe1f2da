"""Who is told of a ladder stage (DOMAIN.md, "Urging and escalation"), by role and by
the unit tree. Pure.

- reminder: the handling officer (the unit's handlers);
- urging notice: the handling unit and its head;
- supervision order: the unit's superior and the petition bureau's supervision section;
- accountability recommendation: the discipline organ that manages the unit.
Leaders in charge of the case (包案) hear of every stage from the urging notice on.
The unit a report accuses is never told, whatever its place in the tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from routing_engine.facts import discipline_unit
from shared.directory import Directory


@dataclass(frozen=True)
class Recipient:
    unit_id: str
    role: str  # handler, leader, supervisor

    @property
    def address(self) -> str:
        return f"unit:{self.unit_id}:{self.role}"


def supervision_bureau(directory: Directory, unit_id: str) -> str | None:
    """The petition bureau nearest above the unit (its county's, else the city's)."""
    unit = directory.units.get(unit_id)
    bureau = directory.bureau_over(unit.division_code) if unit else None
    return bureau.id if bureau else None


def recipients(
    to: str,
    unit_id: str | None,
    directory: Directory,
    leaders: Iterable[str] = (),
    hidden_from: str | None = None,
) -> list[Recipient]:
    """The recipients of a stage addressed `to` a kind of audience, for the unit."""
    if not unit_id:
        return []
    unit = directory.units.get(unit_id)
    out: list[Recipient] = []
    if to == "handler":
        out.append(Recipient(unit_id, "handler"))
    elif to == "unit_and_head":
        out += [Recipient(unit_id, "handler"), Recipient(unit_id, "leader")]
    elif to == "superior_and_supervision":
        if unit is not None and unit.parent_id:
            out.append(Recipient(unit.parent_id, "leader"))
        bureau = supervision_bureau(directory, unit_id)
        if bureau:
            out.append(Recipient(bureau, "supervisor"))
    elif to == "discipline":
        organ = discipline_unit(directory, unit).unit if unit is not None else None
        if organ is not None:
            out.append(Recipient(organ.id, "handler"))
    else:
        raise ValueError(f"unknown audience {to!r}")
    if to != "handler":
        out += [Recipient(leader, "leader") for leader in leaders]
    # One notice per recipient, in order.
    return [r for r in dict.fromkeys(out) if r.unit_id != hidden_from]
