"""Routing decisions of the default ruleset on the demo county (清河县)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from routing_engine.facts import competent_unit, compute_facts, discipline_unit, legal_organ
from routing_engine.rules.engine import decide
from tests.routing_engine.conftest import (
    HEKOU,
    HONGXING,
    QINGSHI,
    build_directory,
    demo_directory,
    petition,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_explained(routing: dict[str, Any]) -> None:
    """At least one Chinese reason, and one that names the chosen unit in Chinese."""
    reasons = routing["reasons"]
    assert reasons, "a decision nobody can explain is a defect"
    assert all(r["rule"] and CJK.search(r["because"]) for r in reasons), reasons
    lead = routing["lead_unit"]
    if lead is not None:
        name = demo_directory().units[lead].name
        assert any(name in r["because"] for r in reasons), (name, reasons)


# --- 谁主管、谁负责；属地管理、分级负责 ----------------------------------------------


def test_wage_arrears_in_a_village_goes_to_the_county_hrss_bureau(route):
    routing = route(category="labor.wage_arrears", division_code=HONGXING).routing()
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] == "qinghe.hrss"
    assert routing["legal_channel"] is None
    assert routing["reasons"][-1]["rule"] == "competence_and_territory"
    assert "清河县人力资源和社会保障局" in routing["reasons"][-1]["because"]
    assert_explained(routing)


def test_neighbour_dispute_goes_to_the_village_committee_where_it_happened(route):
    routing = route(category="neighbour.dispute", division_code=HONGXING).routing()
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] == "qinghe.qingshi.hongxing"
    assert_explained(routing)


def test_land_contract_in_a_village_goes_to_its_township_government(route):
    routing = route(category="land.contract", division_code=HEKOU).routing()
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] == "qinghe.baisha.gov"
    assert "白沙镇人民政府" in " ".join(r["because"] for r in routing["reasons"])
    assert_explained(routing)


def test_village_matter_in_a_village_without_a_committee_goes_to_the_township_government(
    route,
):
    without_committee = build_directory(without_units=["qinghe.qingshi.hongxing"])
    routing = route(
        _directory=without_committee, category="neighbour.dispute", division_code=HONGXING
    ).routing()
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] == "qinghe.qingshi.gov"
    because = " ".join(r["because"] for r in routing["reasons"])
    assert "红星村没有承担该职能的单位" in because
    assert "青石镇人民政府" in because


def test_competent_unit_lookup_reports_the_steps_it_took():
    directory = build_directory(without_units=["qinghe.qingshi.hongxing"])
    found = competent_unit(directory, HONGXING, "village_committee", "village")
    assert found.unit is not None and found.unit.id == "qinghe.qingshi.gov"
    assert any("村级事项由青石镇人民政府负责" in s for s in found.steps)


def test_competent_unit_lookup_for_an_unknown_division_finds_nothing():
    found = competent_unit(demo_directory(), "990101999999", "hrss", "county")
    assert found.unit is None
    assert "990101999999" in found.steps[0]


def test_same_category_in_different_townships_goes_to_each_townships_own_government(route):
    qingshi = route(category="land.contract", division_code=HONGXING).routing()
    baisha = route(category="land.contract", division_code=HEKOU).routing()
    assert qingshi["lead_unit"] == "qinghe.qingshi.gov"
    assert baisha["lead_unit"] == "qinghe.baisha.gov"


# --- 诉访分离：法定途径优先 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "channel", "organ"),
    [
        ("labor.contract_dispute", "arbitration", "qinghe.labor_arbitration"),
        ("law.litigation", "litigation", "qinghe.political_legal"),
        ("law.police", "police", "qinghe.police"),
        ("admin.decision", "administrative_reconsideration", "qinghe.reconsideration"),
    ],
)
def test_matters_of_a_legal_procedure_are_diverted_to_that_channel(route, category, channel, organ):
    routing = route(category=category, division_code=HONGXING).routing()
    assert routing["decision"] == "divert"
    assert routing["legal_channel"] == channel
    assert routing["lead_unit"] == organ
    assert routing["reasons"][-1]["rule"] == "legal_channel_first"
    assert "法定途径" in routing["reasons"][-1]["because"]
    assert_explained(routing)


def test_legal_organ_lookup_is_the_county_organ_of_the_place():
    found = legal_organ(demo_directory(), HEKOU, "arbitration")
    assert found.unit is not None and found.unit.id == "qinghe.labor_arbitration"
    assert legal_organ(demo_directory(), HEKOU, "no_such_channel").unit is None


def test_a_legal_channel_whose_organ_is_missing_goes_to_the_petition_bureau_not_a_guess(route):
    directory = build_directory(without_units=["qinghe.labor_arbitration"])
    routing = route(
        _directory=directory, category="labor.contract_dispute", division_code=HONGXING
    ).routing()
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] == "qinghe.petition_bureau"
    assert routing["legal_channel"] is None
    assert "转信访局人工分办" in routing["reasons"][-1]["because"]


# --- 检举控告交纪检监察 -------------------------------------------------------------


def report(accused_unit: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "report",
        "category": "discipline.official",
        "division_code": HONGXING,
        "accused": {"name": "王某", "position": "主任", "unit_id": accused_unit},
        **fields,
    }


@pytest.mark.parametrize(
    ("accused", "discipline"),
    [
        ("qinghe.qingshi.hongxing", "qinghe.qingshi.discipline"),  # village cadre: township's
        ("qinghe.baisha.hekou", "qinghe.baisha.discipline"),
        ("qinghe.qingshi.gov", "qinghe.discipline"),  # township official: county's
        ("qinghe.hrss", "qinghe.discipline"),  # county department: county's
        ("qinghe.party_gov", "shifan.discipline"),  # county leaders: the city's
    ],
)
def test_a_report_goes_to_the_discipline_organ_that_manages_the_accused(route, accused, discipline):
    routing = route(**report(accused)).routing()
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] == discipline
    assert routing["lead_unit"] != accused
    assert accused not in routing["assisting_units"]
    assert "whistleblower" in routing["flags"]
    assert routing["reasons"][-1]["rule"] == "report_to_discipline"
    assert "不交被检举单位" in routing["reasons"][-1]["because"]
    assert_explained(routing)


@pytest.mark.parametrize("accused", sorted(demo_directory().units))
def test_a_report_is_never_handled_by_the_accused_unit(route, accused):
    """Principle 5: never to the accused unit itself, whoever is accused."""
    routing = route(**report(accused)).routing()
    assert routing["lead_unit"] != accused
    assert accused not in routing["assisting_units"]
    assert "whistleblower" in routing["flags"]


def test_a_report_against_the_county_discipline_commission_goes_to_the_citys(route):
    """The county discipline commission's officials are supervised by the city's
    commission (its parent in the directory), not by the commission itself."""
    routing = route(**report("qinghe.discipline")).routing()
    assert routing["lead_unit"] == "shifan.discipline"


def test_a_report_against_a_city_department_goes_to_the_city_discipline_commission(route):
    """Departments are managed by the discipline organ of their own level (county
    departments → the county's), so a city department → the city's."""
    routing = route(**report("shifan.hrss")).routing()
    assert routing["lead_unit"] == "shifan.discipline"


def test_a_report_naming_an_official_without_a_unit_is_still_flagged_whistleblower(route):
    """The reporter is protected for every 检举控告, not only when the unit is known."""
    fields = report("")
    fields["accused"] = {"name": "王某", "position": "村主任"}
    routing = route(**fields).routing()
    assert routing["lead_unit"] != "qinghe.qingshi.hongxing"
    assert "whistleblower" in routing["flags"]


def test_discipline_lookup_names_who_manages_the_accused():
    directory = demo_directory()
    found = discipline_unit(directory, directory.units["qinghe.qingshi.hongxing"])
    assert found.unit is not None and found.unit.id == "qinghe.qingshi.discipline"
    assert found.steps == ("红星村村民委员会的干部由中共青石镇纪律检查委员会管理",)


def test_a_report_against_a_unit_takes_precedence_over_a_legal_channel(route):
    routing = route(**report("qinghe.police", category="law.police")).routing()
    assert routing["lead_unit"] == "qinghe.discipline"
    assert routing["decision"] == "assign"


def test_a_complaint_that_names_an_accused_unit_is_not_sent_to_discipline(route):
    routing = route(
        type="complaint",
        category="labor.wage_arrears",
        accused={"unit_id": "qinghe.qingshi.hongxing"},
    ).routing()
    assert routing["lead_unit"] == "qinghe.hrss"
    assert "whistleblower" not in routing["flags"]


# --- flags, reasons, the fallback -------------------------------------------------


def test_six_people_are_a_collective_petition_and_the_reason_says_so(route):
    routing = route(people_count=6).routing()
    assert "collective" in routing["flags"]
    collective = [r for r in routing["reasons"] if r["rule"] == "collective_visit"]
    assert len([r for r in collective if "6 人" in r["because"]]) == 1
    assert any("领导" in r["because"] for r in collective)  # and the leaders are alerted
    assert routing["lead_unit"] == "qinghe.hrss"  # the flag does not change who handles it


def test_five_people_are_collective_and_four_are_not(route):
    assert "collective" in route(people_count=5).routing()["flags"]
    assert "collective" not in route(people_count=4).routing()["flags"]


def test_a_division_missing_from_the_directory_falls_back_without_guessing(route):
    decision = route(category="labor.wage_arrears", division_code="990101999999")
    routing = decision.routing()
    # No county is known, so there is no petition bureau to name either.
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] is None
    assert routing["reasons"][-1] == {
        "rule": "fallback",
        "because": "没有规则能够确定承办单位，转信访局人工分办",
    }
    assert all(not step["fired"] for step in decision.trace)


def test_a_place_with_no_competent_unit_goes_to_the_county_petition_bureau(route):
    """No unit of the competent function anywhere up the chain: the county's petition
    bureau routes it by hand, and says why."""
    directory = build_directory(without_units=["qinghe.natural_resources"])
    routing = route(
        _directory=directory, category="land.requisition", division_code=HONGXING
    ).routing()
    assert routing["lead_unit"] == "qinghe.petition_bureau"
    assert routing["reasons"][-1]["rule"] == "fallback"


def test_the_trace_records_every_rule_tried_and_stops_at_the_deciding_one(route):
    decision = route(category="labor.wage_arrears")
    flags = [t for t in decision.trace if t["phase"] == "flag"]
    assert flags and not any(t["fired"] for t in flags)  # every flag rule is tried
    decisive = [t for t in decision.trace if t["phase"] == "decision"]
    # each rule that did not fire says which condition failed, on which fact
    assert all(t["because"] for t in decisive if not t["fired"])
    assert "not_lead" not in decisive[2]["because"] and "report" in decisive[2]["because"]
    assert [{k: t[k] for k in ("phase", "rule", "fired")} for t in decisive] == [
        {"phase": "decision", "rule": "finalized_not_accepted", "fired": False},
        {"phase": "decision", "rule": "in_progress_not_accepted_again", "fired": False},
        {"phase": "decision", "rule": "report_to_discipline", "fired": False},
        {"phase": "decision", "rule": "legal_channel_first", "fired": False},
        {"phase": "decision", "rule": "review_of_prior_opinion", "fired": False},
        {"phase": "decision", "rule": "hierarchical_order", "fired": False},
        {"phase": "decision", "rule": "competence_and_territory", "fired": True},
    ]
    diverted = route(category="law.police")
    assert [t["rule"] for t in diverted.trace if t["phase"] == "decision"] == [
        "finalized_not_accepted",
        "in_progress_not_accepted_again",
        "report_to_discipline",
        "legal_channel_first",
    ]


def test_the_routing_object_has_exactly_the_api_fields(route):
    routing = route().routing()
    assert set(routing) == {
        "decision",
        "lead_unit",
        "assisting_units",
        "legal_channel",
        "decline_reason",
        "flags",
        "reasons",
        "ruleset_version",
    }
    assert routing["assisting_units"] == []
    assert routing["decline_reason"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"category": "labor.wage_arrears"},
        {"category": "neighbour.dispute"},
        {"category": "land.contract", "division_code": HEKOU},
        {"category": "labor.contract_dispute"},
        {"category": "law.litigation"},
        {"category": "admin.decision"},
        {"category": "other"},
        {"category": "education.school", "people_count": 12},
        {
            "type": "report",
            "category": "discipline.official",
            "accused": {"unit_id": "qinghe.qingshi.gov"},
        },
    ],
)
def test_every_decision_is_explained_in_chinese_naming_the_unit(route, fields):
    assert_explained(route(**fields).routing())


def test_facts_record_what_the_decision_read():
    facts = compute_facts(petition(category="labor.wage_arrears", people_count=3), demo_directory())
    public = facts.public()
    assert public["competent_unit"] == "qinghe.hrss"
    assert public["function"] == "hrss"
    assert public["competent_level"] == "county"
    assert public["division_level"] == "village"
    assert public["people_count"] == 3
    assert facts.division_name == "示范省示范市清河县青石镇红星村"


def test_the_same_petition_gets_the_same_decision_twice(ruleset):
    directory = demo_directory()
    first = decide(ruleset, compute_facts(petition(people_count=7), directory)).routing()
    second = decide(ruleset, compute_facts(petition(people_count=7), directory)).routing()
    assert first == second


def test_township_place_for_a_village_matter_is_not_sent_to_a_village(route):
    """Only the township is known; whatever the decision, no village committee is guessed."""
    routing = route(category="neighbour.dispute", division_code=QINGSHI).routing()
    assert routing["lead_unit"] not in {"qinghe.qingshi.hongxing", "qinghe.qingshi.shiqiao"}
