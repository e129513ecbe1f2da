"""Ruleset versions: saved only when valid, live only when their golden cases pass,
one active per county, activation and rollback on record; routing follows."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from routing_engine.config import DEFAULT_RULESET
from tests.conftest import TEST_SECRET
from tests.helpers import petition, wait_for
from tests.services.conftest import Api

DEFAULT: dict[str, Any] = json.loads(DEFAULT_RULESET.read_text(encoding="utf-8"))
XINFANG = str(Path(sys.executable).with_name("xinfang"))


def variant(version: str, mutate: Any = None) -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT)
    doc["version"] = version
    if mutate:
        mutate(doc)
    return doc


def new_deciding_rule(doc: dict[str, Any]) -> None:
    """A new version whose competence rule has another id, so its reasons show which
    version decided."""
    for rule in doc["decision_rules"]:
        if rule["id"] == "competence_and_territory":
            rule["conditions"] = {
                "all": [{"name": "category", "operator": "equal_to", "value": "nothing"}]
            }
    doc["decision_rules"].append(
        {
            "id": "all_to_petition_bureau",
            "conditions": {"all": [{"name": "competent_unit_found", "operator": "is_true"}]},
            "actions": [
                {"name": "assign_competent_unit", "params": {"rule": "all_to_petition_bureau"}}
            ],
        }
    )


def test_an_invalid_ruleset_is_refused_with_the_path_of_each_fault(api: Api) -> None:
    admin = api.auth("qinghe.petition_bureau", "admin")
    doc = variant("bad")
    doc["decision_rules"][2]["conditions"]["all"][0]["operator"] = "sounds_like"
    doc["flag_rules"][0]["actions"][0]["name"] = "launch_rockets"
    r = api.client.post("/api/v1/routing/rulesets", json=doc, headers=admin)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert "decision_rules[2].conditions.all[0].operator" in fields
    assert "flag_rules[0].actions[0].name" in fields
    assert api.client.get("/api/v1/routing/rulesets", headers=admin).json() == []


def test_only_admins_change_rulesets(api: Api) -> None:
    r = api.client.post("/api/v1/routing/rulesets", json=DEFAULT, headers=api.registrar)
    assert r.status_code == 403


def test_a_version_goes_live_only_when_its_golden_cases_pass(api: Api) -> None:
    admin = api.auth("qinghe.petition_bureau", "admin")

    def break_a_case(doc: dict[str, Any]) -> None:
        doc["golden_cases"][0]["expect"]["lead_unit"] = "qinghe.education"

    broken = api.client.post(
        "/api/v1/routing/rulesets", json=variant("broken", break_a_case), headers=admin
    ).json()
    r = api.client.post(f"/api/v1/routing/rulesets/{broken['id']}/activate", headers=admin)
    assert r.status_code == 409
    assert DEFAULT["golden_cases"][0]["name"] in r.json()["detail"]
    assert (
        api.client.get(f"/api/v1/routing/rulesets/{broken['id']}", headers=admin).json()["state"]
        == "validated"
    )


def test_activation_changes_routing_and_rollback_restores_it(api: Api) -> None:
    admin = api.auth("qinghe.petition_bureau", "admin")

    def lead_of(body: dict[str, Any]) -> str:
        pid = api.client.post("/api/v1/petitions", json=body).json()["id"]

        def probe() -> str | None:
            rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
            return rec["routing"]["lead_unit"] if rec.get("routing") else None

        return wait_for(probe)

    first = api.client.post("/api/v1/routing/rulesets", json=variant("v1"), headers=admin).json()
    tested = api.client.post(f"/api/v1/routing/rulesets/{first['id']}/test", headers=admin).json()
    assert tested["passed"] is True and tested["state"] == "tested"
    assert (
        api.client.post(f"/api/v1/routing/rulesets/{first['id']}/activate", headers=admin).json()[
            "state"
        ]
        == "active"
    )
    assert lead_of(petition(title="一")) == "qinghe.hrss"

    def change(doc: dict[str, Any]) -> None:
        new_deciding_rule(doc)
        # its golden cases describe the new policy, so it may go live
        doc["golden_cases"] = [
            {
                "name": "新版本：拖欠工资仍交县人社局",
                "petition": {"category": "labor.wage_arrears", "division_code": "990101100201"},
                "expect": {"lead_unit": "qinghe.hrss"},
            }
        ]

    second = api.client.post(
        "/api/v1/routing/rulesets", json=variant("v2", change), headers=admin
    ).json()
    assert (
        api.client.post(
            f"/api/v1/routing/rulesets/{second['id']}/activate", headers=admin
        ).status_code
        == 200
    )
    states = {
        r["version"]: r["state"]
        for r in api.client.get("/api/v1/routing/rulesets", headers=admin).json()
    }
    assert states == {"v1": "retired", "v2": "active"}
    sim = api.client.post("/api/v1/routing/simulate", json=petition(), headers=admin).json()
    assert sim["ruleset_version"].startswith("v2@")
    assert any(r["rule"] == "all_to_petition_bureau" for r in sim["reasons"])

    back = api.client.post("/api/v1/routing/rulesets/rollback", headers=admin)
    assert back.status_code == 200 and back.json()["version"] == "v1"
    sim = api.client.post("/api/v1/routing/simulate", json=petition(), headers=admin).json()
    assert sim["ruleset_version"].startswith("v1@")
    trail = api.client.get("/api/v1/routing/rulesets-audit", headers=admin).json()
    assert [a["action"] for a in trail if a["action"] in ("activated", "rolled_back")] == [
        "activated",
        "activated",
        "rolled_back",
    ]
    assert all(a["actor"] == "staff:qinghe.petition_bureau:admin" for a in trail)


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "XINFANG_SECRET_KEY": TEST_SECRET}
    return subprocess.run([XINFANG, *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_validates_tests_publishes_and_rolls_back(api: Api, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(variant("cli-1"), ensure_ascii=False))
    assert run(api.url, "rules", "validate", str(good)).returncode == 0
    tested = run(api.url, "rules", "test", str(good))
    assert (
        tested.returncode == 0
        and f"{len(DEFAULT['golden_cases'])} passed, 0 failed" in tested.stdout
    )
    bad = tmp_path / "bad.json"
    doc = variant("cli-bad")
    doc["decision_rules"][0]["conditions"]["all"][0]["name"] = "moon_phase"
    bad.write_text(json.dumps(doc, ensure_ascii=False))
    refused = run(api.url, "rules", "validate", str(bad))
    assert refused.returncode == 1 and "decision_rules[0].conditions.all[0].name" in refused.stderr
    assert run(api.url, "rules", "publish", str(good), "--activate").returncode == 0
    second = tmp_path / "second.json"
    second.write_text(json.dumps(variant("cli-2"), ensure_ascii=False))
    assert "active" in run(api.url, "rules", "publish", str(second), "--activate").stdout
    back = run(api.url, "rules", "rollback")
    assert back.returncode == 0 and "cli-1" in back.stdout
