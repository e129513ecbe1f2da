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
class Ruleset:
    version: str
    doc: dict[str, Any]
    digest: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Ruleset:
        doc = checked_ruleset(doc)
        canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()
        return cls(
            version=doc["version"], doc=doc, digest=hashlib.sha256(canonical).hexdigest()[:12]
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


def decide(ruleset: Ruleset, facts: Facts) -> Decision:
    outcome = Outcome()
    variables = PetitionVariables(facts)
    actions = RoutingActions(facts, outcome)
    trace: list[dict[str, Any]] = []
    for rule in ruleset.doc.get("flag_rules", []):
        fired = check_conditions_recursively(_with_values(rule["conditions"]), variables)
        if fired:
            do_actions(rule["actions"], actions)
        trace.append({"phase": "flag", "rule": rule["id"], "fired": bool(fired)})
    for rule in ruleset.doc["decision_rules"]:
        fired = check_conditions_recursively(_with_values(rule["conditions"]), variables)
        trace.append({"phase": "decision", "rule": rule["id"], "fired": bool(fired)})
        if fired:
            do_actions(rule["actions"], actions)
            if outcome.decision is not None:
                break
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
