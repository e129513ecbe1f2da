"""The decision: flag rules all fire; decision rules are tried in order and the
first that fires decides. Every rule's outcome is traced for the explanation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from business_rules.engine import check_conditions_recursively, do_actions

from routing_engine.facts import Facts
from routing_engine.rules.actions import Outcome, RoutingActions
from routing_engine.rules.catalogue import checked_ruleset
from routing_engine.rules.variables import PetitionVariables


@dataclass(frozen=True)
class PreparedRule:
    id: str
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    # The category the rule requires (`all` with `category equal_to X`), if any:
    # the pre-filter's key. A rule without one is a candidate for every petition.
    category: str | None


def required_category(conditions: dict[str, Any]) -> str | None:
    for cond in conditions.get("all", []):
        if cond.get("name") == "category" and cond.get("operator") == "equal_to":
            return str(cond.get("value"))
    return None


@dataclass(frozen=True)
class Phase:
    """A phase's rules in order, and per category the candidates (still in order)."""

    rules: tuple[PreparedRule, ...]
    by_category: dict[str, tuple[PreparedRule, ...]] = field(default_factory=dict, compare=False)
    unkeyed: tuple[PreparedRule, ...] = ()

    @classmethod
    def of(cls, rules: list[dict[str, Any]]) -> Phase:
        prepared = tuple(
            PreparedRule(
                r["id"],
                _with_values(r["conditions"]),
                r["actions"],
                required_category(r["conditions"]),
            )
            for r in rules
        )
        keys = {r.category for r in prepared if r.category is not None}
        return cls(
            rules=prepared,
            by_category={k: tuple(r for r in prepared if r.category in (None, k)) for k in keys},
            unkeyed=tuple(r for r in prepared if r.category is None),
        )

    def candidates(self, category: str) -> tuple[PreparedRule, ...]:
        return self.by_category.get(category, self.unkeyed)


@dataclass(frozen=True)
class Ruleset:
    version: str
    doc: dict[str, Any]
    digest: str
    flags: Phase = field(compare=False, default_factory=lambda: Phase(()))
    decisions: Phase = field(compare=False, default_factory=lambda: Phase(()))

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Ruleset:
        doc = checked_ruleset(doc)
        canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()
        return cls(
            version=doc["version"],
            doc=doc,
            digest=hashlib.sha256(canonical).hexdigest()[:12],
            flags=Phase.of(doc.get("flag_rules", [])),
            decisions=Phase.of(doc["decision_rules"]),
        )

    @property
    def label(self) -> str:
        return f"{self.version}@{self.digest}"


@dataclass
class Decision:
    outcome: Outcome
    trace: list[dict[str, Any]] = field(default_factory=list)
    ruleset: str = ""

    def routing(self) -> dict[str, Any]:
        """The public `routing` object of API.md."""
        o = self.outcome
        return {
            "decision": o.decision,
            "lead_unit": o.lead_unit,
            "assisting_units": list(o.assisting_units),
            "legal_channel": o.legal_channel,
            "decline_reason": o.decline_reason,
            "flags": list(o.flags),
            "reasons": list(o.reasons),
            "ruleset_version": self.ruleset,
        }


def _with_values(conditions: Any) -> Any:
    # business-rules reads condition['value'] even for operators that take none.
    if isinstance(conditions, dict):
        if "name" in conditions:
            return {"value": None, **conditions}
        return {k: [_with_values(c) for c in v] for k, v in conditions.items()}
    return conditions


def why_not(conditions: dict[str, Any], variables: PetitionVariables) -> str:
    """Which condition kept a rule from firing, for the explanation of a decision."""
    if "all" in conditions:
        for cond in conditions["all"]:
            if not check_conditions_recursively(cond, variables):
                return why_not(cond, variables)
        return ""
    if "any" in conditions:
        return "以下条件均不满足：" + "；".join(why_not(c, variables) for c in conditions["any"])
    actual = getattr(variables, conditions["name"])()
    value = conditions.get("value")
    shown = "" if value is None else f" {value!r}"
    return f"{conditions['name']} {conditions['operator']}{shown} 不成立（实际为 {actual!r}）"


def decide(ruleset: Ruleset, facts: Facts, *, prefilter: bool = True) -> Decision:
    """Flag rules all run; decision rules in order until one decides. With `prefilter`,
    rules that require another category are skipped without evaluating them."""
    outcome = Outcome()
    variables = PetitionVariables(facts)
    actions = RoutingActions(facts, outcome)
    trace: list[dict[str, Any]] = []
    for phase_name, phase in (("flag", ruleset.flags), ("decision", ruleset.decisions)):
        rules = phase.candidates(facts.category) if prefilter else phase.rules
        for rule in rules:
            fired = check_conditions_recursively(rule.conditions, variables)
            entry: dict[str, Any] = {"phase": phase_name, "rule": rule.id, "fired": bool(fired)}
            if not fired and phase_name == "decision":
                entry["because"] = why_not(rule.conditions, variables)
            trace.append(entry)
            if fired:
                do_actions(rule.actions, actions)
                if phase_name == "decision" and outcome.decision is not None:
                    break
        skipped = len(phase.rules) - len(rules)
        if skipped:
            trace.append(
                {
                    "phase": phase_name,
                    "rule": f"（只适用于其他类别的 {skipped} 条规则，未评估）",
                    "fired": False,
                    "skipped": skipped,
                }
            )
    if outcome.decision == "decline":
        outcome.assisting_units.clear()
    elif outcome.lead_unit in outcome.assisting_units:
        outcome.assisting_units.remove(outcome.lead_unit)
    if outcome.decision is None:
        # No rule decided: never guess; the county's petition bureau routes it by hand.
        fallback = facts.fallback.unit
        outcome.decision = "assign"
        outcome.lead_unit = fallback.id if fallback else None
        outcome.because("fallback", "没有规则能够确定承办单位，转信访局人工分办")
    return Decision(outcome=outcome, trace=trace, ruleset=ruleset.label)
