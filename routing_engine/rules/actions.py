"""The actions a ruleset may take. Each records what it did and a reason an
official can read; the rule id comes in as a parameter so every line of the
explanation names the rule that wrote it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from business_rules.actions import BaseActions, rule_action
from business_rules.fields import FIELD_SELECT, FIELD_TEXT

from routing_engine.facts import LEGAL_CHANNEL_NAMES, Facts, Resolved

FLAGS = ["collective", "urgent", "repeat", "whistleblower"]
FLAG_REASONS = {
    "collective": "{n} 人共同信访，属集体访，须报领导关注",
    "urgent": "内容涉及紧急情况，须优先处理",
    "repeat": "同一信访人就同一事项再次信访，已关联前案",
    "whistleblower": "检举控告，须保护检举人信息",
}


@dataclass
class Outcome:
    decision: str | None = None
    lead_unit: str | None = None
    assisting_units: list[str] = field(default_factory=list)
    legal_channel: str | None = None
    decline_reason: str | None = None
    flags: list[str] = field(default_factory=list)
    reasons: list[dict[str, str]] = field(default_factory=list)
    units_used: dict[str, dict[str, Any]] = field(default_factory=dict)

    def because(self, rule: str, text: str) -> None:
        self.reasons.append({"rule": rule, "because": text})


class RoutingActions(BaseActions):
    def __init__(self, facts: Facts, outcome: Outcome) -> None:
        self.facts = facts
        self.outcome = outcome

    def _use(self, resolved: Resolved) -> str | None:
        unit = resolved.unit
        if unit is None:
            return None
        self.outcome.units_used[unit.id] = {
            "id": unit.id,
            "name": unit.name,
            "level": unit.level,
            "function": unit.function,
            "division_code": unit.division_code,
        }
        return unit.id

    def _decide(self, rule: str, decision: str, resolved: Resolved, text: str) -> None:
        unit_id = self._use(resolved)
        if unit_id is None:
            # The law points at a unit the directory lacks: say so, and let the
            # petition bureau route it by hand rather than guess.
            fallback = self._use(self.facts.fallback)
            self.outcome.decision = "assign"
            self.outcome.lead_unit = fallback
            why = f"（{'；'.join(resolved.steps)}）" if resolved.steps else ""
            self.outcome.because(rule, f"{text}，但目录中没有该单位{why}，转信访局人工分办")
            return
        self.outcome.decision = decision
        self.outcome.lead_unit = unit_id
        self.outcome.because(rule, text)

    @rule_action(params={"rule": FIELD_TEXT})
    def assign_competent_unit(self, rule: str) -> None:
        f = self.facts
        unit = f.competent.unit
        where = f.division_name or f.division_code
        text = (
            f"「{f.category_name}」事发地在{where}，{'；'.join(f.competent.steps)}"
            f"（谁主管、谁负责；属地管理、分级负责）"
        )
        if unit is not None:
            text += f"，交{unit.name}办理"
        self._decide(rule, "assign", f.competent, text)

    @rule_action(params={"rule": FIELD_TEXT})
    def divert_to_legal_channel(self, rule: str) -> None:
        f = self.facts
        organ = f.legal_organ.unit
        text = (
            f"「{f.category_name}」属于{LEGAL_CHANNEL_NAMES.get(f.legal_channel, f.legal_channel)}"
            f"的法定途径（诉访分离、依法分类处理），引导信访人通过该途径解决"
        )
        if organ is not None:
            text += f"，由{organ.name}受理"
        self._decide(rule, "divert", f.legal_organ, text)
        if self.outcome.decision == "divert":
            self.outcome.legal_channel = f.legal_channel

    @rule_action(params={"rule": FIELD_TEXT})
    def assign_discipline_unit(self, rule: str) -> None:
        f = self.facts
        unit = f.discipline.unit
        text = f"检举控告公职人员，{'；'.join(f.discipline.steps)}"
        if unit is not None:
            text += f"，由{unit.name}受理，不交被检举单位，检举人信息不向被检举人透露"
        self._decide(rule, "assign", f.discipline, text)
        if "whistleblower" not in self.outcome.flags:
            self.outcome.flags.append("whistleblower")

    @rule_action(params={"rule": FIELD_TEXT, "flag": FIELD_SELECT})
    def flag(self, rule: str, flag: str) -> None:
        if flag not in FLAGS:
            raise ValueError(f"unknown flag {flag!r}")
        if flag not in self.outcome.flags:
            self.outcome.flags.append(flag)
            self.outcome.because(rule, FLAG_REASONS[flag].format(n=self.facts.people_count))
