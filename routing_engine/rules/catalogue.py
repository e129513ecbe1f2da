"""The catalogue of variables, operators and actions, and ruleset validation
against it. business-rules validates lazily (a bad condition behind a false
one is never noticed), so every ruleset is checked here, whole, when loaded."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from business_rules import export_rule_data
from business_rules.fields import (
    FIELD_NO_INPUT,
    FIELD_NUMERIC,
    FIELD_SELECT,
    FIELD_SELECT_MULTIPLE,
    FIELD_TEXT,
)

from routing_engine.rules.actions import (
    DECLINE_REASONS,
    EMERGENCY_SERVICES,
    FLAGS,
    RoutingActions,
)
from routing_engine.rules.variables import PetitionVariables

PHASES = ("flag_rules", "decision_rules")
# The allowed values of actions' select parameters.
SELECT_OPTIONS: dict[str, list[str]] = {
    "flag": FLAGS,
    "reason": DECLINE_REASONS,
    "service": list(EMERGENCY_SERVICES),
}


@cache
def catalogue() -> dict[str, Any]:
    """What `export_rule_data` says rule authors may use."""
    data: dict[str, Any] = export_rule_data(PetitionVariables, RoutingActions)
    return data


class RulesetError(ValueError):
    """A ruleset refused; `problems` are `(path, message)`."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{p}: {m}" for p, m in problems))


def _check_value(
    path: str, input_type: str, value: Any, options: list[Any]
) -> list[tuple[str, str]]:
    if input_type == FIELD_NO_INPUT:
        return []
    if input_type == FIELD_NUMERIC and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        return [(path, "应为数字")]
    if input_type == FIELD_TEXT and not isinstance(value, str):
        return [(path, "应为文本")]
    if input_type == FIELD_SELECT:
        if not isinstance(value, str):
            return [(path, "应为文本")]
        if options and value not in options:
            return [(path, f"取值 {value!r} 不在可选值 {options} 中")]
    if input_type == FIELD_SELECT_MULTIPLE:
        if not isinstance(value, list):
            return [(path, "应为列表")]
        bad = [v for v in value if options and v not in options]
        if bad:
            return [(path, f"取值 {bad} 不在可选值 {options} 中")]
    return []


def _check_conditions(path: str, cond: Any, cat: dict[str, Any]) -> list[tuple[str, str]]:
    if not isinstance(cond, dict):
        return [(path, "条件应为对象")]
    keys = set(cond)
    for group in ("all", "any"):
        if group in keys:
            if keys != {group}:
                return [(path, f"{group} 须单独出现")]
            items = cond[group]
            if not isinstance(items, list) or not items:
                return [(f"{path}.{group}", "应为非空列表")]
            out: list[tuple[str, str]] = []
            for i, sub in enumerate(items):
                out += _check_conditions(f"{path}.{group}[{i}]", sub, cat)
            return out
    variables = {v["name"]: v for v in cat["variables"]}
    name = cond.get("name")
    if name not in variables:
        return [(f"{path}.name", f"未知变量 {name!r}")]
    var = variables[name]
    operators = {o["name"]: o for o in cat["variable_type_operators"][var["field_type"]]}
    op = cond.get("operator")
    if op not in operators:
        return [(f"{path}.operator", f"变量 {name} 不支持运算符 {op!r}，可用：{sorted(operators)}")]
    input_type = operators[op]["input_type"]
    if input_type != FIELD_NO_INPUT and "value" not in cond:
        return [(f"{path}.value", "缺少 value")]
    extra = keys - {"name", "operator", "value"}
    if extra:
        return [(path, f"不认识的键 {sorted(extra)}")]
    options = [o if isinstance(o, str) else o.get("name") for o in var.get("options") or []]
    problems = _check_value(f"{path}.value", input_type, cond.get("value"), options)
    if not problems and op == "matches_regex":
        try:
            re.compile(cond["value"])
        except re.error as exc:
            problems.append((f"{path}.value", f"不是合法的正则表达式：{exc}"))
    return problems


def _check_actions(
    path: str, rule_id: str, actions: Any, cat: dict[str, Any]
) -> list[tuple[str, str]]:
    if not isinstance(actions, list) or not actions:
        return [(path, "应为非空列表")]
    known = {a["name"]: a for a in cat["actions"]}
    out: list[tuple[str, str]] = []
    for i, action in enumerate(actions):
        here = f"{path}[{i}]"
        if not isinstance(action, dict) or action.get("name") not in known:
            out.append(
                (
                    f"{here}.name",
                    f"未知动作 {action.get('name') if isinstance(action, dict) else action!r}",
                )
            )
            continue
        spec = {p["name"]: p for p in known[action["name"]]["params"] or []}
        params = action.get("params") or {}
        if not isinstance(params, dict):
            out.append((f"{here}.params", "应为对象"))
            continue
        for missing in sorted(set(spec) - set(params)):
            out.append((f"{here}.params.{missing}", "缺少参数"))
        for extra in sorted(set(params) - set(spec)):
            out.append((f"{here}.params.{extra}", "未知参数"))
        for pname, value in params.items():
            if pname in spec:
                options = SELECT_OPTIONS.get(pname, [])
                out += _check_value(
                    f"{here}.params.{pname}", spec[pname]["fieldType"], value, options
                )
        if params.get("rule", rule_id) != rule_id:
            out.append((f"{here}.params.rule", f"须与所在规则的 id {rule_id!r} 一致"))
    return out


def validate_ruleset(doc: Any) -> list[tuple[str, str]]:
    """Every fault of a ruleset document, each with its path; empty when valid."""
    if not isinstance(doc, dict):
        return [("$", "规则集应为 JSON 对象")]
    problems: list[tuple[str, str]] = []
    if not isinstance(doc.get("version"), str) or not doc["version"]:
        problems.append(("version", "须为非空文本"))
    cat = catalogue()
    seen: set[str] = set()
    for phase in PHASES:
        rules = doc.get(phase, [])
        if not isinstance(rules, list):
            problems.append((phase, "应为列表"))
            continue
        for i, rule in enumerate(rules):
            here = f"{phase}[{i}]"
            if not isinstance(rule, dict):
                problems.append((here, "规则应为对象"))
                continue
            rid = rule.get("id")
            if not isinstance(rid, str) or not rid:
                problems.append((f"{here}.id", "须为非空文本"))
                rid = ""
            elif rid in seen:
                problems.append((f"{here}.id", f"规则 id {rid!r} 重复"))
            seen.add(rid)
            problems += _check_conditions(f"{here}.conditions", rule.get("conditions"), cat)
            problems += _check_actions(f"{here}.actions", rid, rule.get("actions"), cat)
    if not doc.get("decision_rules"):
        problems.append(("decision_rules", "至少需要一条决定规则"))
    from routing_engine.rules.golden import golden_problems  # golden imports the engine

    return problems + golden_problems(doc)


def checked_ruleset(doc: Any) -> dict[str, Any]:
    problems = validate_ruleset(doc)
    if problems:
        raise RulesetError(problems)
    result: dict[str, Any] = doc
    return result
