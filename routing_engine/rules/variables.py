"""The variables a ruleset may test: each reads a precomputed fact, never the database."""

from __future__ import annotations

from business_rules.fields import FIELD_NUMERIC, FIELD_SELECT, FIELD_TEXT  # noqa: F401
from business_rules.variables import (
    BaseVariables,
    boolean_rule_variable,
    numeric_rule_variable,
    select_rule_variable,
    string_rule_variable,
)

from routing_engine.facts import Facts

TYPE_OPTIONS = ["suggestion", "report", "complaint"]
LEVEL_OPTIONS = ["national", "province", "city", "county", "township", "village"]
CHANNEL_OPTIONS = ["web", "miniprogram", "qr", "hotline", "mail", "visit"]


class PetitionVariables(BaseVariables):
    def __init__(self, facts: Facts) -> None:
        self.facts = facts

    @select_rule_variable(label="信访类型", options=TYPE_OPTIONS)
    def type(self) -> list[str]:
        return [self.facts.type]

    @string_rule_variable(label="内容类别代码")
    def category(self) -> str:
        return self.facts.category

    @string_rule_variable(label="类别的主管职能")
    def function(self) -> str:
        return self.facts.function

    @select_rule_variable(label="类别的有权处理层级", options=LEVEL_OPTIONS)
    def competent_level(self) -> list[str]:
        return [self.facts.competent_level]

    @string_rule_variable(label="类别所属法定途径（空为无）")
    def legal_channel(self) -> str:
        return self.facts.legal_channel

    @string_rule_variable(label="事发地区划代码")
    def division_code(self) -> str:
        return self.facts.division_code

    @select_rule_variable(label="事发地区划层级", options=LEVEL_OPTIONS)
    def division_level(self) -> list[str]:
        return [self.facts.division_level]

    @numeric_rule_variable(label="人数")
    def people_count(self) -> int:
        return self.facts.people_count

    @select_rule_variable(label="渠道", options=CHANNEL_OPTIONS)
    def channel(self) -> list[str]:
        return [self.facts.channel]

    @string_rule_variable(label="信访人投向的单位")
    def addressed_to(self) -> str:
        return self.facts.addressed_to

    @string_rule_variable(label="被检举人所在单位")
    def accused_unit(self) -> str:
        return self.facts.accused_unit

    @boolean_rule_variable(label="有被检举对象所在单位")
    def has_accused(self) -> bool:
        return self.facts.has_accused

    @boolean_rule_variable(label="同一信访人就同一事项重复信访")
    def is_repeat(self) -> bool:
        return bool(self.facts.repeat_of)

    @select_rule_variable(label="前一件同一事项的状态", options=["", "in_progress", "finalized"])
    def repeat_state(self) -> list[str]:
        return [self.facts.repeat_state]

    @string_rule_variable(label="标题与内容（可用正则匹配紧急情况等）")
    def text(self) -> str:
        return self.facts.text

    @select_rule_variable(label="信访人投向单位的层级", options=LEVEL_OPTIONS)
    def addressed_level(self) -> list[str]:
        return [self.facts.addressed_level]

    @boolean_rule_variable(label="投向单位高于有权处理的主管单位（依法逐级）")
    def addressed_above_competent(self) -> bool:
        return self.facts.addressed_above_competent

    @boolean_rule_variable(label="下级已出具书面处理意见")
    def has_prior_opinion(self) -> bool:
        return self.facts.has_prior_opinion

    @boolean_rule_variable(label="找到了复查单位（出具意见单位的上一级）")
    def review_unit_found(self) -> bool:
        return self.facts.review.unit is not None

    @boolean_rule_variable(label="找到了有权处理的主管单位")
    def competent_unit_found(self) -> bool:
        return self.facts.competent.unit is not None
