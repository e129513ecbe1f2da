"""Ruleset documents: validated whole when loaded, versioned by content."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from business_rules.engine import check_conditions_recursively

from routing_engine.facts import compute_facts
from routing_engine.rules.catalogue import RulesetError, catalogue, validate_ruleset
from routing_engine.rules.engine import Ruleset, decide
from routing_engine.rules.variables import PetitionVariables
from routing_engine.service import load_ruleset
from tests.routing_engine.conftest import DEFAULT_RULESET, demo_directory, petition


def default_doc() -> dict[str, Any]:
    return json.loads(DEFAULT_RULESET.read_text(encoding="utf-8"))


def minimal(conditions: Any = None, actions: Any = None, rule_id: str = "r1") -> dict[str, Any]:
    return {
        "version": "test-1",
        "decision_rules": [
            {
                "id": rule_id,
                "conditions": conditions
                if conditions is not None
                else {"all": [{"name": "competent_unit_found", "operator": "is_true"}]},
                "actions": actions
                if actions is not None
                else [{"name": "assign_competent_unit", "params": {"rule": rule_id}}],
            }
        ],
    }


def paths(doc: Any) -> list[str]:
    return [path for path, _ in validate_ruleset(doc)]


def test_the_default_ruleset_validates_clean():
    assert validate_ruleset(default_doc()) == []


def test_the_default_ruleset_loads_from_its_file():
    ruleset = load_ruleset(DEFAULT_RULESET)
    assert ruleset.version == "qinghe-2026.11"
    assert ruleset.label.startswith("qinghe-2026.11@")


def test_a_minimal_ruleset_validates_clean():
    assert validate_ruleset(minimal()) == []


def test_an_unknown_variable_is_refused_at_its_path():
    doc = minimal({"all": [{"name": "petitioner_age", "operator": "equal_to", "value": 3}]})
    problems = validate_ruleset(doc)
    assert [p for p, _ in problems] == ["decision_rules[0].conditions.all[0].name"]
    assert "petitioner_age" in problems[0][1]


def test_an_operator_the_variables_type_lacks_is_refused_at_its_path():
    doc = minimal({"all": [{"name": "people_count", "operator": "contains", "value": 5}]})
    problems = validate_ruleset(doc)
    assert [p for p, _ in problems] == ["decision_rules[0].conditions.all[0].operator"]
    assert "greater_than" in problems[0][1]  # tells the author what is available


def test_a_string_for_a_numeric_value_is_refused():
    doc = minimal({"all": [{"name": "people_count", "operator": "greater_than", "value": "5"}]})
    assert validate_ruleset(doc) == [("decision_rules[0].conditions.all[0].value", "应为数字")]


def test_a_boolean_for_a_numeric_value_is_refused():
    doc = minimal({"all": [{"name": "people_count", "operator": "greater_than", "value": True}]})
    assert paths(doc) == ["decision_rules[0].conditions.all[0].value"]


def test_a_missing_value_is_refused():
    doc = minimal({"all": [{"name": "category", "operator": "equal_to"}]})
    assert paths(doc) == ["decision_rules[0].conditions.all[0].value"]


def test_a_select_value_outside_its_options_is_refused():
    doc = minimal({"all": [{"name": "type", "operator": "contains", "value": "petition"}]})
    assert paths(doc) == ["decision_rules[0].conditions.all[0].value"]


def test_an_unknown_key_in_a_condition_is_refused():
    doc = minimal(
        {"all": [{"name": "category", "operator": "equal_to", "value": "x", "vaule": "y"}]}
    )
    assert paths(doc) == ["decision_rules[0].conditions.all[0]"]


def test_an_invalid_regular_expression_is_refused_when_loaded():
    """matches_regex compiles its value only when the rule is evaluated: a broken
    pattern that passes validation would crash routing for every petition reaching it."""
    doc = minimal({"all": [{"name": "category", "operator": "matches_regex", "value": "(["}]})
    assert paths(doc) == ["decision_rules[0].conditions.all[0].value"]


def test_an_unknown_action_is_refused():
    doc = minimal(actions=[{"name": "close_case", "params": {"rule": "r1"}}])
    problems = validate_ruleset(doc)
    assert [p for p, _ in problems] == ["decision_rules[0].actions[0].name"]
    assert "close_case" in problems[0][1]


def test_a_missing_action_parameter_is_refused():
    doc = minimal(actions=[{"name": "assign_competent_unit", "params": {}}])
    assert validate_ruleset(doc) == [("decision_rules[0].actions[0].params.rule", "缺少参数")]


def test_an_action_without_params_is_refused():
    doc = minimal(actions=[{"name": "assign_competent_unit"}])
    assert paths(doc) == ["decision_rules[0].actions[0].params.rule"]


def test_an_unknown_action_parameter_is_refused():
    doc = minimal(
        actions=[{"name": "assign_competent_unit", "params": {"rule": "r1", "unit": "x"}}]
    )
    assert validate_ruleset(doc) == [("decision_rules[0].actions[0].params.unit", "未知参数")]


def test_an_unknown_flag_is_refused():
    doc = minimal(actions=[{"name": "flag", "params": {"rule": "r1", "flag": "vip"}}])
    assert paths(doc) == ["decision_rules[0].actions[0].params.flag"]


def test_params_rule_must_name_the_rule_it_belongs_to():
    doc = minimal(actions=[{"name": "assign_competent_unit", "params": {"rule": "other"}}])
    problems = validate_ruleset(doc)
    assert [p for p, _ in problems] == ["decision_rules[0].actions[0].params.rule"]
    assert "r1" in problems[0][1]


def test_duplicate_rule_ids_are_refused():
    doc = minimal()
    doc["decision_rules"].append(copy.deepcopy(doc["decision_rules"][0]))
    assert paths(doc) == ["decision_rules[1].id"]


def test_a_rule_id_repeated_across_phases_is_refused():
    doc = default_doc()
    doc["decision_rules"][0]["id"] = "collective_visit"
    doc["decision_rules"][0]["actions"][0]["params"]["rule"] = "collective_visit"
    assert paths(doc) == ["decision_rules[0].id"]


def test_empty_decision_rules_are_refused():
    doc = minimal()
    doc["decision_rules"] = []
    assert paths(doc) == ["decision_rules"]


def test_missing_decision_rules_are_refused():
    doc = minimal()
    del doc["decision_rules"]
    assert paths(doc) == ["decision_rules"]


def test_a_missing_version_is_refused():
    doc = minimal()
    del doc["version"]
    assert paths(doc) == ["version"]


def test_all_mixed_with_other_keys_is_refused():
    doc = minimal(
        {
            "all": [{"name": "competent_unit_found", "operator": "is_true"}],
            "name": "people_count",
        }
    )
    problems = validate_ruleset(doc)
    assert [p for p, _ in problems] == ["decision_rules[0].conditions"]
    assert "all" in problems[0][1]


def test_an_empty_any_is_refused():
    assert paths(minimal({"any": []})) == ["decision_rules[0].conditions.any"]


def test_a_document_that_is_not_an_object_is_refused():
    assert paths([1, 2]) == ["$"]


BAD_BEHIND_FALSE = {
    "all": [
        {"name": "people_count", "operator": "greater_than", "value": 100_000},
        {"name": "no_such_variable", "operator": "equal_to", "value": "x"},
    ]
}


def test_business_rules_alone_would_not_notice_a_bad_condition_behind_a_false_one():
    # The reason validation exists: evaluation stops at the first false condition.
    facts = compute_facts(petition(), demo_directory())
    assert check_conditions_recursively(BAD_BEHIND_FALSE, PetitionVariables(facts)) is False


def test_a_bad_condition_behind_a_false_one_is_still_refused():
    assert paths(minimal(BAD_BEHIND_FALSE)) == ["decision_rules[0].conditions.all[1].name"]
    with pytest.raises(RulesetError) as caught:
        Ruleset.from_doc(minimal(BAD_BEHIND_FALSE))
    assert caught.value.problems[0][0] == "decision_rules[0].conditions.all[1].name"


def test_a_bad_nested_condition_is_refused_at_its_full_path():
    doc = minimal(
        {
            "any": [
                {"name": "competent_unit_found", "operator": "is_true"},
                {"all": [{"name": "people_count", "operator": "equal_to", "value": "many"}]},
            ]
        }
    )
    assert paths(doc) == ["decision_rules[0].conditions.any[1].all[0].value"]


def test_every_fault_is_reported_at_once():
    doc = default_doc()
    doc["flag_rules"][0]["conditions"]["all"][0]["value"] = "five"
    doc["decision_rules"][1]["actions"][0]["name"] = "nope"
    doc["decision_rules"][2]["actions"][0]["params"]["rule"] = "wrong"
    assert paths(doc) == [
        "flag_rules[0].conditions.all[0].value",
        "decision_rules[1].actions[0].name",
        "decision_rules[2].actions[0].params.rule",
    ]


def test_loading_a_bad_ruleset_file_fails_naming_the_path(tmp_path: Path):
    doc = default_doc()
    doc["decision_rules"][0]["conditions"]["all"][0]["operator"] = "greater_than"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(RulesetError, match=r"decision_rules\[0\]\.conditions\.all\[0\]\.operator"):
        load_ruleset(path)


def test_ruleset_version_is_stable_for_the_same_document():
    a = Ruleset.from_doc(default_doc())
    b = Ruleset.from_doc(default_doc())
    assert a.label == b.label
    assert load_ruleset(DEFAULT_RULESET).label == a.label
    # Key order in the file does not matter; content does.
    reordered = dict(reversed(list(default_doc().items())))
    assert Ruleset.from_doc(reordered).label == a.label


def test_ruleset_version_changes_when_the_document_changes():
    base = Ruleset.from_doc(default_doc())
    changed = default_doc()
    changed["flag_rules"][0]["conditions"]["all"][0]["value"] = 6
    other = Ruleset.from_doc(changed)
    assert other.version == base.version  # the author forgot to bump it
    assert other.label != base.label  # still told apart


def test_the_decision_carries_the_ruleset_version(ruleset):
    routing = decide(ruleset, compute_facts(petition(), demo_directory())).routing()
    assert routing["ruleset_version"] == ruleset.label


def test_a_changed_threshold_changes_the_decision():
    doc = default_doc()
    doc["flag_rules"][0]["conditions"]["all"][0]["value"] = 3
    routing = decide(
        Ruleset.from_doc(doc), compute_facts(petition(people_count=3), demo_directory())
    ).routing()
    assert "collective" in routing["flags"]
    assert "3 人" in routing["reasons"][0]["because"]


def test_the_catalogue_lists_the_variables_and_actions_rule_authors_may_use():
    cat = catalogue()
    names = {v["name"] for v in cat["variables"]}
    assert {"type", "category", "people_count", "has_accused", "competent_unit_found"} <= names
    actions = {a["name"] for a in cat["actions"]}
    assert actions == {
        "assign_competent_unit",
        "assign_discipline_unit",
        "assign_review_unit",
        "refer_down_to_competent_unit",
        "divert_to_legal_channel",
        "decline",
        "add_assisting_unit",
        "flag",
        "flag_emergency",
        "alert_leaders",
    }
    assert "greater_than_or_equal_to" in {
        o["name"] for o in cat["variable_type_operators"]["numeric"]
    }
