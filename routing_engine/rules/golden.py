"""Golden cases: petitions a ruleset version carries with the decisions they must
get. A version goes live only when every one of them passes. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routing_engine.facts import RoutingContext, compute_facts
from routing_engine.rules.engine import Ruleset, decide
from shared.directory import Directory

EXACT = ("decision", "lead_unit", "legal_channel", "decline_reason")


@dataclass(frozen=True)
class GoldenResult:
    name: str
    passed: bool
    problems: tuple[str, ...]
    routing: dict[str, Any]


def run_case(ruleset: Ruleset, directory: Directory, case: dict[str, Any]) -> GoldenResult:
    given: dict[str, Any] = case.get("context") or {}
    context = RoutingContext(
        repeat_state=str(given.get("repeat_state", "")),
        repeat_lead_unit=str(given.get("repeat_lead_unit", "")),
        repeat_query_code=str(given.get("repeat_query_code", "")),
        excluded_units=tuple(given.get("excluded_units", ())),
    )
    routing = decide(ruleset, compute_facts(case["petition"], directory, context)).routing()
    expect = case["expect"]
    problems = [
        f"{key}：应为 {expect[key]!r}，实为 {routing[key]!r}"
        for key in EXACT
        if key in expect and routing[key] != expect[key]
    ]
    for flag in expect.get("flags", []):
        if flag not in routing["flags"]:
            problems.append(f"flags：缺少 {flag}")
    for flag in expect.get("no_flags", []):
        if flag in routing["flags"]:
            problems.append(f"flags：不应有 {flag}")
    if "assisting_units" in expect and sorted(routing["assisting_units"]) != sorted(
        expect["assisting_units"]
    ):
        problems.append(
            f"assisting_units：应为 {expect['assisting_units']}，实为 {routing['assisting_units']}"
        )
    if expect.get("not_lead_unit") and routing["lead_unit"] == expect["not_lead_unit"]:
        problems.append(f"lead_unit：不得为 {expect['not_lead_unit']}")
    for words in expect.get("reason_mentions", []):
        if not any(words in r["because"] for r in routing["reasons"]):
            problems.append(f"reasons：未提及「{words}」")
    return GoldenResult(case.get("name", ""), not problems, tuple(problems), routing)


def run_golden(ruleset: Ruleset, directory: Directory) -> list[GoldenResult]:
    return [run_case(ruleset, directory, case) for case in ruleset.doc.get("golden_cases", [])]


def golden_problems(doc: Any) -> list[tuple[str, str]]:
    """Structural faults of the golden cases, with their paths."""
    cases = doc.get("golden_cases", []) if isinstance(doc, dict) else []
    if not isinstance(cases, list):
        return [("golden_cases", "应为列表")]
    out: list[tuple[str, str]] = []
    allowed_context = set(RoutingContext.__dataclass_fields__)
    for i, case in enumerate(cases):
        here = f"golden_cases[{i}]"
        if not isinstance(case, dict):
            out.append((here, "应为对象"))
            continue
        if not isinstance(case.get("name"), str) or not case["name"]:
            out.append((f"{here}.name", "须为非空文本"))
        if not isinstance(case.get("petition"), dict):
            out.append((f"{here}.petition", "应为对象（信访事项）"))
        if not isinstance(case.get("expect"), dict) or not case["expect"]:
            out.append((f"{here}.expect", "应为非空对象"))
        extra = set(case.get("context") or {}) - allowed_context
        if extra:
            out.append((f"{here}.context", f"不认识的键 {sorted(extra)}"))
    return out
