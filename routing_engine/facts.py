"""The facts a routing decision reads, computed once, up front, from the petition
and a directory snapshot (business-rules calls a variable once per condition, so
nothing here may touch the database).

Also the pure look-ups of the law's "who": the competent unit by function and
territory, the organ of a legal channel, the discipline unit managing an accused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.directory import LEVEL_NAMES, Directory, UnitRow, level_rank

LEGAL_CHANNEL_FUNCTION = {
    "litigation": "political_legal",
    "arbitration": "arbitration",
    "administrative_reconsideration": "reconsideration",
    "police": "police",
}
LEGAL_CHANNEL_NAMES = {
    "litigation": "诉讼（涉法涉诉，由政法机关依法处理）",
    "arbitration": "劳动人事争议仲裁",
    "administrative_reconsideration": "行政复议",
    "police": "公安机关依法处理",
}


@dataclass(frozen=True)
class Resolved:
    """A unit the law points at, with the steps that found it (for the reason text)."""

    unit: UnitRow | None
    steps: tuple[str, ...] = ()


@dataclass
class Facts:
    petition_id: str
    type: str
    category: str
    category_name: str
    function: str
    competent_level: str
    legal_channel: str
    division_code: str
    division_name: str
    division_level: str
    people_count: int
    channel: str
    addressed_to: str
    addressed_level: str
    accused_unit: str
    accused_level: str
    has_accused: bool
    # The earlier petition this one repeats, and where that one stands:
    # "" (no repeat), "in_progress", or "finalized".
    repeat_of: str = ""
    repeat_state: str = ""
    repeat_lead_unit: str = ""
    repeat_query_code: str = ""
    query_code: str = ""
    text: str = ""
    # Is the unit the petitioner addressed above the competent one (依法逐级)?
    addressed_above_competent: bool = False
    # A lower level already gave a written opinion the petitioner is unhappy with.
    has_prior_opinion: bool = False
    prior_unit_name: str = ""
    excluded_units: tuple[str, ...] = ()
    competent: Resolved = field(default_factory=lambda: Resolved(None))
    legal_organ: Resolved = field(default_factory=lambda: Resolved(None))
    discipline: Resolved = field(default_factory=lambda: Resolved(None))
    fallback: Resolved = field(default_factory=lambda: Resolved(None))
    review: Resolved = field(default_factory=lambda: Resolved(None))
    directory: Directory | None = field(default=None, repr=False, compare=False)

    def public(self) -> dict[str, Any]:
        """What the decision stores as 'the facts it read'."""
        return {
            "query_code": self.query_code,
            "type": self.type,
            "category": self.category,
            "function": self.function,
            "competent_level": self.competent_level,
            "legal_channel": self.legal_channel,
            "division_code": self.division_code,
            "division_level": self.division_level,
            "people_count": self.people_count,
            "channel": self.channel,
            "addressed_to": self.addressed_to,
            "addressed_level": self.addressed_level,
            "accused_unit": self.accused_unit,
            "accused_level": self.accused_level,
            "repeat_of": self.repeat_of,
            "repeat_state": self.repeat_state,
            "addressed_above_competent": self.addressed_above_competent,
            "has_prior_opinion": self.has_prior_opinion,
            "excluded_units": list(self.excluded_units),
            "review_unit": self.review.unit.id if self.review.unit else None,
            "competent_unit": self.competent.unit.id if self.competent.unit else None,
            "legal_organ": self.legal_organ.unit.id if self.legal_organ.unit else None,
            "discipline_unit": self.discipline.unit.id if self.discipline.unit else None,
        }


def competent_unit(
    directory: Directory,
    division_code: str,
    function: str,
    level: str,
    exclude: tuple[str, ...] = (),
) -> Resolved:
    """Whoever administers, where it happened, at the lowest level that can settle it.

    Starts in the ancestor of the place at the competence level (or the place
    itself when it lies above that level) and climbs until a unit of the
    function exists; a village matter with no village unit of that function
    goes to the township government.
    """
    chain = directory.ancestors(division_code)
    if not chain:
        return Resolved(None, (f"区划 {division_code} 不在目录中",))
    start = next((i for i, d in enumerate(chain) if level_rank(d.level) <= level_rank(level)), 0)
    steps: list[str] = []
    for div in chain[start:]:
        unit = next(
            (u for u in directory.units_with(div.code, function) if u.id not in exclude), None
        )
        if unit is None and directory.unit_with(div.code, function) is not None:
            # The unit the law points at has returned it: the forwarding body decides
            # by hand rather than the matter climbing to another level.
            steps.append(f"{div.name}的主管单位已退回，不再交其办理")
            return Resolved(None, tuple(steps))
        if unit is not None:
            steps.append(f"{div.name}（{LEVEL_NAMES[div.level]}）由{unit.name}主管")
            return Resolved(unit, tuple(steps))
        steps.append(f"{div.name}没有承担该职能的单位")
        if div.level in ("village", "township"):
            # Villages have no departments: the township government answers for
            # village matters, including those placed only at the township.
            township = directory.division_at(div.code, "township")
            gov = directory.unit_with(township.code, "township_gov") if township else None
            if gov is not None and gov.id not in exclude:
                steps.append(f"村级事项由{gov.name}负责")
                return Resolved(gov, tuple(steps))
    return Resolved(None, tuple(steps))


def legal_organ(directory: Directory, division_code: str, channel: str) -> Resolved:
    """The organ of a legal channel for the county of the place."""
    function = LEGAL_CHANNEL_FUNCTION.get(channel)
    if function is None:
        return Resolved(None)
    return competent_unit(directory, division_code, function, "county")


def discipline_unit(directory: Directory, accused: UnitRow) -> Resolved:
    """The discipline inspection and supervision organ that manages the accused's unit:
    village cadres → the township's; township officials → the county's; officials of a
    county or city department → that level's; the leaders of a level (its party
    committee and government) and its discipline organ itself → the level above.
    Never the accused unit itself."""
    if accused.level == "village":
        managing_level = "township"
    elif accused.level == "township":
        managing_level = "county"
    elif accused.kind == "party_gov" or accused.function == "discipline":
        managing_level = LEVELS_UP.get(accused.level, accused.level)
    else:
        managing_level = accused.level
    for division in directory.ancestors(accused.division_code):
        if level_rank(division.level) > level_rank(managing_level):
            continue
        unit = directory.unit_with(division.code, "discipline")
        if unit is not None and unit.id != accused.id:
            return Resolved(unit, (f"{accused.name}的干部由{unit.name}管理",))
    return Resolved(None, (f"{accused.name}所在地区以上没有可以受理的纪检监察机关",))


LEVELS_UP = {"village": "township", "township": "county", "county": "city", "city": "province"}


def petition_bureau(directory: Directory, division_code: str) -> Resolved:
    county = directory.division_at(division_code, "county")
    unit = directory.unit_with(county.code, "petition_bureau") if county else None
    return Resolved(unit, (f"由{unit.name}人工分办",) if unit else ())


@dataclass(frozen=True)
class RoutingContext:
    """What routing knows beyond the petition: the earlier case of a repeat, and the
    units that returned this petition as not theirs."""

    repeat_state: str = ""
    repeat_lead_unit: str = ""
    repeat_query_code: str = ""
    excluded_units: tuple[str, ...] = ()


def review_unit(directory: Directory, prior: UnitRow) -> Resolved:
    """Review (复查) goes one level up from the unit that gave the opinion."""
    parent = directory.units.get(prior.parent_id or "")
    if parent is None:
        return Resolved(None, (f"{prior.name}没有上级单位",))
    return Resolved(parent, (f"对{prior.name}的书面处理意见不服，由上一级{parent.name}复查",))


def compute_facts(
    petition: dict[str, Any], directory: Directory, context: RoutingContext | None = None
) -> Facts:
    """Facts from a `petition.received` payload (or a simulated body) and the directory,
    with what the caller knows beyond the petition (`context`)."""
    context = context or RoutingContext()
    category = directory.categories.get(petition.get("category") or "")
    division_code = petition.get("division_code") or ""
    division = directory.divisions.get(division_code)
    addressed = directory.units.get(petition.get("addressed_to") or "")
    # the accused as intake placed it (shared.visibility.derive_accused), else as given
    accused_id = (
        petition.get("accused_unit") or (petition.get("accused") or {}).get("unit_id") or ""
    )
    accused = directory.units.get(accused_id)
    function = category.function if category else "petition_bureau"
    level = (category.level if category and category.level else None) or "county"
    facts = Facts(
        petition_id=str(petition.get("petition_id") or ""),
        type=petition.get("type") or "complaint",
        category=category.code if category else "",
        category_name=category.name if category else "",
        function=function,
        competent_level=level,
        legal_channel=(category.legal_channel if category else None) or "",
        division_code=division_code,
        division_name=directory.full_name(division_code) if division else "",
        division_level=division.level if division else "",
        people_count=int(petition.get("people_count") or 1),
        channel=petition.get("channel") or "web",
        addressed_to=addressed.id if addressed else "",
        addressed_level=addressed.level if addressed else "",
        accused_unit=accused.id if accused else "",
        accused_level=accused.level if accused else "",
        has_accused=accused is not None,
        repeat_of=str(petition.get("repeat_of") or ""),
        repeat_state=context.repeat_state if petition.get("repeat_of") else "",
        repeat_lead_unit=context.repeat_lead_unit if petition.get("repeat_of") else "",
        repeat_query_code=context.repeat_query_code if petition.get("repeat_of") else "",
        query_code=str(petition.get("query_code") or ""),
        text=f"{petition.get('title') or ''}\n{petition.get('content') or ''}",
        excluded_units=context.excluded_units,
        directory=directory,
    )
    prior = petition.get("prior") or {}
    prior_unit = directory.units.get(prior.get("unit_id") or "")
    if prior_unit is not None and prior.get("opinion_on"):
        facts.has_prior_opinion = True
        facts.prior_unit_name = prior_unit.name
        facts.review = review_unit(directory, prior_unit)
    if division is not None:
        facts.competent = competent_unit(
            directory, division_code, function, level, exclude=context.excluded_units
        )
        unit = facts.competent.unit
        if unit is not None and addressed is not None:
            facts.addressed_above_competent = level_rank(addressed.level) < level_rank(unit.level)
        facts.fallback = petition_bureau(directory, division_code)
        if facts.legal_channel:
            facts.legal_organ = legal_organ(directory, division_code, facts.legal_channel)
    if accused is not None:
        facts.discipline = discipline_unit(directory, accused)
    return facts
