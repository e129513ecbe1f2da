"""One petition travels end to end in one process: intake → routing → deadline → notices."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.conftest import make_api_key
from tests.helpers import petition, petition_by, wait_for
from tests.services.conftest import Api


def routed(api: Api, petition_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        r = api.client.get(f"/api/v1/petitions/{petition_id}", headers=api.registrar)
        if r.status_code != 200:
            return None
        body = r.json()
        steps = {(d["step"], d["state"]) for d in body["deadlines"]}
        return (
            body if body["routing"] and {("forward", "met"), ("accept", "open")} <= steps else None
        )

    return wait_for(probe, timeout=10)


def test_a_petition_is_received_routed_and_timed(api: Api) -> None:
    started = time.monotonic()
    r = api.client.post("/api/v1/petitions", json=petition())
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["status"] == "received"
    assert receipt["received_at"].endswith("+08:00")
    assert set(receipt) == {"id", "query_code", "status", "received_at"}

    record = routed(api, receipt["id"])
    assert time.monotonic() - started < 5
    assert record["status"] == "routed"
    assert record["query_code"] == receipt["query_code"]
    routing = record["routing"]
    assert routing["decision"] == "assign"
    assert routing["lead_unit"] == "qinghe.hrss"
    assert routing["ruleset_version"].startswith("qinghe-")
    assert any("清河县人力资源和社会保障局" in r["because"] for r in routing["reasons"])
    # personal data is masked in the staff record
    assert record["petitioners"][0]["phone"] == "138****8000"
    assert record["petitioners"][0]["id_number"] == "110105********002X"
    assert "13800138000" not in r.text

    deadlines = {d["step"]: d for d in record["deadlines"]}
    # Routing is the forwarding (art. 22): met at once. The unit now has 15 days to
    # say whether it accepts (art. 23).
    assert deadlines["forward"]["state"] == "met"
    accept = deadlines["accept"]
    assert accept["state"] == "open" and accept["unit_id"] == "qinghe.hrss"
    assert accept["due_at"].endswith("23:59:59+08:00")
    assert accept["basis"]["length"] == 15

    def full_timeline() -> list[dict[str, Any]] | None:
        items = api.client.get(
            f"/api/v1/petitions/{receipt['id']}/timeline", headers=api.registrar
        ).json()
        return items if len([i for i in items if i["kind"] == "notice"]) == 3 else None

    timeline = wait_for(full_timeline)
    kinds = [item["kind"] for item in timeline]
    assert kinds[0] == "received"
    assert {"received", "routed", "deadline", "notice"} <= set(kinds)
    assert [i["at"] for i in timeline] == sorted(i["at"] for i in timeline)

    notices = api.client.get(
        "/api/v1/notices", params={"petition_id": receipt["id"]}, headers=api.registrar
    ).json()
    by_kind = {n["kind"]: n for n in notices}
    assert by_kind["receipt"]["recipient"] == f"petitioner:{receipt['query_code']}"
    assert by_kind["receipt"]["state"] == "delivered"
    assert receipt["query_code"] in by_kind["receipt"]["body"]
    assert by_kind["new_case"]["recipient"] == "unit:qinghe.hrss"
    # the petitioner learns where it went
    assert by_kind["routed"]["recipient"] == f"petitioner:{receipt['query_code']}"
    assert "清河县人力资源和社会保障局" in by_kind["routed"]["body"]


def test_the_readmes_example_petition_is_received_and_routed(api: Api) -> None:
    """The first thing a newcomer runs (README, "The two commands") works as shown."""
    body = json.loads((Path(__file__).parents[2] / "docs" / "example-petition.json").read_text())
    r = api.client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    record = routed(api, r.json()["id"])
    assert record["routing"]["lead_unit"] == "qinghe.hrss", record["routing"]["reasons"]
    assert [a["name"] for a in record["attachments"]] == ["欠条.png"]
    # and the lead unit accepts it, as the README goes on to show
    hrss = api.auth("qinghe.hrss", "handler")
    r = api.client.post(f"/api/v1/petitions/{record['id']}/accept", json={}, headers=hrss)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["allowed_steps"]) == (
        "handling",
        ["extend", "pause", "reply"],
    )


def test_a_report_goes_to_the_discipline_unit_not_the_accused(api: Api) -> None:
    body = petition(
        type="report",
        category="discipline.official",
        title="举报村支书侵占补偿款",
        accused={
            "name": "李四",
            "position": "红星村党支部书记",
            "unit_id": "qinghe.qingshi.hongxing",
        },
    )
    r = api.client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    record = routed(api, r.json()["id"])
    assert record["routing"]["lead_unit"] == "qinghe.qingshi.discipline"
    assert "whistleblower" in record["routing"]["flags"]
    # the accused unit never sees the report, not even that it exists
    accused = api.auth("qinghe.qingshi.hongxing", "handler")
    assert api.client.get(f"/api/v1/petitions/{r.json()['id']}", headers=accused).status_code == 404


def test_a_collective_petition_is_flagged(api: Api) -> None:
    r = api.client.post("/api/v1/petitions", json=petition(people_count=8, title="八人反映欠薪"))
    record = routed(api, r.json()["id"])
    assert "collective" in record["routing"]["flags"]
    assert any("8 人" in reason["because"] for reason in record["routing"]["reasons"])


def test_worklists_show_a_unit_its_own_cases(api: Api) -> None:
    ids = [
        api.client.post(
            "/api/v1/petitions",
            json=petition(
                title=f"欠薪{i}", petitioners=[{"name": "工人", "phone": f"1390000000{i}"}]
            ),
        ).json()["id"]
        for i in range(2)
    ]
    other = api.client.post(
        "/api/v1/petitions", json=petition(category="neighbour.dispute", title="邻里纠纷")
    ).json()["id"]
    for pid in [*ids, other]:
        routed(api, pid)
    hrss = api.auth("qinghe.hrss", "handler")
    mine = api.client.get("/api/v1/petitions", headers=hrss).json()
    assert {p["id"] for p in mine} == set(ids)
    assert api.client.get(f"/api/v1/petitions/{other}", headers=hrss).status_code == 404
    everything = api.client.get("/api/v1/petitions", headers=api.registrar).json()
    assert {p["id"] for p in everything} >= {*ids, other}
    by_unit = api.client.get(
        "/api/v1/petitions", params={"unit_id": "qinghe.qingshi.hongxing"}, headers=api.registrar
    )
    assert [p["id"] for p in by_unit.json()] == [other]
    assert (
        api.client.get(
            "/api/v1/petitions", params={"overdue": "true"}, headers=api.registrar
        ).json()
        == []
    )


def test_an_external_system_reads_results_with_an_api_key(
    api: Api, api_key: dict[str, str]
) -> None:
    ticket = {
        **petition(channel="hotline"),
        "source_system": "12345热线平台",
        "external_ref": "GD-READ-1",
    }
    own = api.client.post("/api/v1/hotline/tickets", json=ticket, headers=api_key).json()["id"]
    web = api.client.post("/api/v1/petitions", json=petition_by(5)).json()["id"]
    routed(api, own)
    routed(api, web)
    r = api.client.get(f"/api/v1/petitions/{own}", headers=api_key)
    assert r.status_code == 200
    assert r.json()["routing"]["lead_unit"] == "qinghe.hrss"
    # its own tickets, not the county's other petitions, unless it is granted them
    assert api.client.get(f"/api/v1/petitions/{web}", headers=api_key).status_code == 404
    assert [p["id"] for p in api.client.get("/api/v1/petitions", headers=api_key).json()] == [own]
    wider = {"X-Api-Key": make_api_key(api.url, "网格化管理平台", reads="jurisdiction")}
    assert api.client.get(f"/api/v1/petitions/{web}", headers=wider).status_code == 200
    # but an API key is not a staff credential
    assert (
        api.client.get("/api/v1/notices", params={"petition_id": own}, headers=api_key).status_code
        == 403
    )


def test_routing_simulate_stores_nothing(api: Api) -> None:
    r = api.client.post(
        "/api/v1/routing/simulate",
        json=petition(category="labor.contract_dispute"),
        headers=api.registrar,
    )
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "divert"
    assert r.json()["legal_channel"] == "arbitration"
    assert api.client.get("/api/v1/petitions", headers=api.registrar).json() == []
    catalog = api.client.get("/api/v1/routing/catalog", headers=api.registrar).json()
    assert {"variables", "actions", "variable_type_operators"} <= set(catalog)
