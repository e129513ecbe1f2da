"""The actions a ruleset may take. Each records what it did and a reason an
official can read; the rule id comes in as a parameter so every line of the
explanation names the rule that wrote it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from business_rules.actions import BaseActions, rule_action
from business_rules.fields import FIELD_SELECT, FIELD_TEXT

from routing_engine.facts import LEGAL_CHANNEL_NAMES, Facts, Resolved, competent_unit

FLAGS = ["collective", "urgent", "repeat", "whistleblower"]
EMERGENCY_SERVICES = {"110": "报警", "119": "火警", "120": "急救", "122": "交通事故报警"}
DECLINE_REASONS = ["in_progress", "finalized"]
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
    alert_leaders: bool = False
    emergency_services: list[str] = field(default_factory=list)
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

    @rule_action(params={"rule": FIELD_TEXT})
    def refer_down_to_competent_unit(self, rule: str) -> None:
        f = self.facts
        unit = f.competent.unit
        addressed = f.directory.units.get(f.addressed_to) if f.directory else None
        text = (
            f"「{f.category_name}」应由{unit.name if unit else '下级'}先行处理，"
            f"{addressed.name if addressed else '上级'}不越级受理（依法逐级，第五、二十二条）：{'；'.join(f.competent.steps)}"
            f"，转送{unit.name if unit else '有权处理的单位'}办理，并告知信访人"
        )
        self._decide(rule, "refer_down", f.competent, text)

    @rule_action(params={"rule": FIELD_TEXT})
    def assign_review_unit(self, rule: str) -> None:
        f = self.facts
        text = f"信访人对{f.prior_unit_name}的书面处理意见不服（第三十五条）：{'；'.join(f.review.steps)}"
        self._decide(rule, "assign", f.review, text)

    @rule_action(params={"rule": FIELD_TEXT, "reason": FIELD_SELECT})
    def decline(self, rule: str, reason: str) -> None:
        if reason not in DECLINE_REASONS:
            raise ValueError(f"unknown decline reason {reason!r}")
        f = self.facts
        case = f.repeat_query_code or f.repeat_of
        if reason == "in_progress":
            lead = f.directory.units.get(f.repeat_lead_unit) if f.directory else None
            text = (
                f"同一事项已在办理中（查询码 {case}"
                + (f"，由{lead.name}办理" if lead else "")
                + "），不再重复受理，请通过原件查询办理进度（第十九条）"
            )
        else:
            text = f"同一事项已经复查、复核终结（查询码 {case}），以同一事实和理由再次提出的，不再受理（第三十六条）"
        self.outcome.decision = "decline"
        self.outcome.lead_unit = None
        self.outcome.decline_reason = reason
        self.outcome.because(rule, text)

    @rule_action(params={"rule": FIELD_TEXT, "function": FIELD_TEXT})
    def add_assisting_unit(self, rule: str, function: str) -> None:
        f = self.facts
        if f.directory is None or not f.division_code:
            return
        found = competent_unit(f.directory, f.division_code, function, "township", f.excluded_units)
        unit_id = self._use(found)
        if unit_id and unit_id not in self.outcome.assisting_units:
            self.outcome.assisting_units.append(unit_id)
            assert found.unit is not None
            self.outcome.because(rule, f"涉及多个单位：{found.unit.name}协办")

    @rule_action(params={"rule": FIELD_TEXT, "service": FIELD_SELECT})
    def flag_emergency(self, rule: str, service: str) -> None:
        if service not in EMERGENCY_SERVICES:
            raise ValueError(f"unknown emergency service {service!r}")
        if "urgent" not in self.outcome.flags:
            self.outcome.flags.append("urgent")
        if service not in self.outcome.emergency_services:
            self.outcome.emergency_services.append(service)
            self.outcome.because(
                rule,
                f"内容涉及紧急情况，已提示信访人立即拨打 {service}（{EMERGENCY_SERVICES[service]}）",
            )

    @rule_action(params={"rule": FIELD_TEXT})
    def alert_leaders(self, rule: str) -> None:
        if not self.outcome.alert_leaders:
            self.outcome.alert_leaders = True
            self.outcome.because(rule, "报送值班领导，及时到场或批示")
