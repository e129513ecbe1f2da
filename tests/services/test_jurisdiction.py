"""Jurisdiction and credentials at the edges: personal data only inside one's
jurisdiction and with a reason of substance, every read audited (append-only);
county-wide powers only for the county's petition bureau admins; external systems
only through their channels, in their own name, reading their own tickets."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import make_engine
from tests.conftest import make_api_key
from tests.helpers import petition, petition_by
from tests.services.conftest import Api, routed
from tests.services.test_channels import ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def routed_petition(api: Api, **changes: Any) -> str:
    r = api.client.post("/api/v1/petitions", json=petition(**changes))
    assert r.status_code == 201, r.text
    pid = str(r.json()["id"])
    routed(api, pid)
    return pid


def test_personal_data_needs_a_reason_of_substance_and_the_jurisdiction(api: Api) -> None:
    pid = routed_petition(api)
    url = f"/api/v1/petitions/{pid}/personal-data"
    for reason in ("ab", "  看看  ", "查看", "x y z", "      "):
        r = api.client.get(url, params={"reason": reason}, headers=api.registrar)
        assert r.status_code == 422, (reason, r.text)
        assert r.json()["errors"][0]["field"] == "reason"
        assert "理由" in r.json()["errors"][0]["message"]
    assert (
        api.client.get(
            url, params={"reason": "电话回访核实诉求"}, headers=api.registrar
        ).status_code
        == 200
    )
    assert (
        api.client.get(
            url, params={"reason": "call back to verify the claim"}, headers=api.registrar
        ).status_code
        == 200
    )
    # a registrar of a township that has no part in it: for them it does not exist
    township = api.auth("qinghe.baisha.gov", "registrar")
    r = api.client.get(url, params={"reason": "电话回访核实诉求"}, headers=township)
    assert r.status_code == 404, r.text
    # the lead unit's handler sees the record, masked, but not the full data
    handler = api.auth("qinghe.hrss", "handler")
    assert api.client.get(f"/api/v1/petitions/{pid}", headers=handler).status_code == 200
    assert (
        api.client.get(url, params={"reason": "电话回访核实诉求"}, headers=handler).status_code
        == 403
    )


def test_every_full_read_and_download_is_audited_for_the_bureaus_admins(api: Api) -> None:
    files = [
        {
            "name": "欠条.png",
            "content_type": "image/png",
            "data_base64": base64.b64encode(PNG).decode(),
        }
    ]
    pid = routed_petition(api, attachments=files)
    reads = api.client.get(
        f"/api/v1/petitions/{pid}/personal-data",
        params={"reason": "电话回访核实诉求"},
        headers=api.registrar,
    )
    assert reads.status_code == 200
    handler = api.auth("qinghe.hrss", "handler")
    download = api.client.get(f"/api/v1/petitions/{pid}/attachments/0", headers=handler)
    assert download.status_code == 200 and download.content == PNG
    admin = api.auth("qinghe.petition_bureau", "admin")
    r = api.client.get(
        "/api/v1/audit/personal-data-reads", params={"petition_id": pid}, headers=admin
    )
    assert r.status_code == 200, r.text
    entries = r.json()
    assert [(e["action"], e["reader"], e["reason"]) for e in entries] == [
        ("personal_data", "staff:qinghe.petition_bureau:registrar", "电话回访核实诉求"),
        ("attachment", "staff:qinghe.hrss:handler", "下载附件"),
    ]
    assert all(isinstance(e["credential_id"], int) for e in entries)
    # filters by reader and by period
    mine = api.client.get(
        "/api/v1/audit/personal-data-reads",
        params={"reader": "staff:qinghe.hrss:handler"},
        headers=admin,
    ).json()
    assert [e["action"] for e in mine] == ["attachment"]
    later = api.client.get(
        "/api/v1/audit/personal-data-reads",
        params={"from": "2999-01-01T00:00:00+08:00"},
        headers=admin,
    ).json()
    assert later == []
    # a day alone, or a time without an offset, is Beijing's
    for since in ("2999-01-01", "2999-01-01T00:00:00"):
        r = api.client.get(
            "/api/v1/audit/personal-data-reads", params={"from": since}, headers=admin
        )
        assert r.status_code == 200 and r.json() == [], r.text
    # only the bureau's admins read the audit
    for who in (api.auth("qinghe.hrss", "admin"), api.registrar):
        assert api.client.get("/api/v1/audit/personal-data-reads", headers=who).status_code == 403
    # and nobody rewrites or empties it, not even through the database
    engine = make_engine(api.url)
    for statement in (
        "UPDATE personal_data_read SET reason = 'x'",
        "DELETE FROM personal_data_read",
    ):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()


def test_county_wide_powers_belong_to_the_countys_petition_bureau_admins(api: Api) -> None:
    limits = {
        "time_limits": [{"step": "handle", "level": "village", "length": 5, "unit": "working_days"}]
    }
    for unit in ("qinghe.qingshi.hongxing", "qinghe.hrss", "qinghe.party_gov"):
        admin = api.auth(unit, "admin")
        r = api.client.put("/api/v1/time-limits", json=limits, headers=admin)
        assert r.status_code == 403, (unit, r.text)
        assert "信访局" in r.json()["detail"]
        ruleset = api.client.post("/api/v1/routing/rulesets", json={}, headers=admin)
        assert ruleset.status_code == 403, (unit, ruleset.text)
        assert (
            api.client.post("/api/v1/routing/rulesets/rollback", headers=admin).status_code == 403
        )
        hook = api.client.post(
            "/api/v1/webhook-subscriptions",
            json={
                "url": "https://example.gov.cn/hook",
                "event_types": ["cn.xinfang.petition.routed"],
            },
            headers=admin,
        )
        assert hook.status_code == 403, (unit, hook.text)
    bureau = api.auth("qinghe.petition_bureau", "admin")
    assert api.client.put("/api/v1/time-limits", json=limits, headers=bureau).status_code == 200
    # a county's rulesets are not another county's to change, nor to read
    other = api.client.post(
        "/api/v1/routing/rulesets", params={"jurisdiction": "990000000000"}, json={}, headers=bureau
    )
    assert other.status_code == 403


def test_a_leader_is_named_from_the_callers_own_tree(api: Api) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition_by(41)).json()["id"]
    routed(api, pid)
    leaders = f"/api/v1/petitions/{pid}/leaders"
    # the lead unit's admin may name its own leader, not the county's
    hrss = api.auth("qinghe.hrss", "admin")
    assert (
        api.client.post(leaders, json={"unit_id": "qinghe.hrss"}, headers=hrss).status_code == 200
    )
    r = api.client.post(leaders, json={"unit_id": "qinghe.party_gov"}, headers=hrss)
    assert r.status_code == 403, r.text
    # a village's supervisor does not act on a case it has no part in
    village = api.auth("qinghe.baisha.hekou", "supervisor")
    r = api.client.post(leaders, json={"unit_id": "qinghe.baisha.hekou"}, headers=village)
    assert r.status_code == 404, r.text
    # the petition bureau names any leader of its county
    bureau = api.auth("qinghe.petition_bureau", "supervisor")
    r = api.client.post(leaders, json={"unit_id": "qinghe.party_gov"}, headers=bureau)
    assert r.status_code == 200, r.text


def test_a_system_pushes_through_its_channels_in_its_own_name_and_finds_its_tickets(
    api: Api,
) -> None:
    key = {"X-Api-Key": make_api_key(api.url, "12345热线平台")}
    wrong_name = api.client.post(
        "/api/v1/hotline/tickets", json=ticket(source_system="别的平台"), headers=key
    )
    assert wrong_name.status_code == 422
    assert wrong_name.json()["errors"][0]["field"] == "source_system"
    grid = {"X-Api-Key": make_api_key(api.url, "网格平台", channels=("open311",))}
    refused = api.client.post(
        "/api/v1/hotline/tickets", json=ticket(source_system="网格平台"), headers=grid
    )
    assert refused.status_code == 403 and "hotline" in refused.json()["detail"]
    made = api.client.post("/api/v1/hotline/tickets", json=ticket(), headers=key)
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    routed(api, pid)
    found = api.client.get("/api/v1/petitions/external/12345热线平台/GD001", headers=key)
    assert found.status_code == 200, found.text
    assert found.json()["id"] == pid
    # another system does not find it, nor learn that it exists
    for path in ("/api/v1/petitions/external/12345热线平台/GD001", f"/api/v1/petitions/{pid}"):
        assert api.client.get(path, headers=grid).status_code == 404
    assert (
        api.client.get("/api/v1/petitions/external/12345热线平台/NONE", headers=key).status_code
        == 404
    )


def test_an_unknown_or_revoked_credential_is_told_so_in_chinese(api: Api) -> None:
    for headers in ({"Authorization": "Bearer xft_nothing"}, {"X-Api-Key": "xfk_nothing"}):
        r = api.client.get("/api/v1/petitions", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "无效" in r.json()["detail"]


def test_a_scan_site_is_made_and_read_only_inside_the_callers_jurisdiction(api: Api) -> None:
    site = {
        "name": "白沙村渡口",
        "kind": "village",
        "division_code": "990101101201",
        "unit_id": "qinghe.baisha.baisha",
    }
    village = api.auth("qinghe.qingshi.hongxing", "admin")
    r = api.client.post("/api/v1/qr-sites", json=site, headers=village)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unit_id"
    made = api.client.post("/api/v1/qr-sites", json=site, headers=api.registrar)
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    township = api.auth("qinghe.baisha.gov", "registrar")  # above the village: sees it
    assert api.client.get(f"/api/v1/qr-sites/{sid}", headers=township).status_code == 200
    for path in (f"/api/v1/qr-sites/{sid}", f"/api/v1/qr-sites/{sid}/qr.png"):
        assert api.client.get(path, headers=village).status_code == 404
    assert api.client.post(f"/api/v1/qr-sites/{sid}/revoke", headers=village).status_code == 404


def test_a_leader_put_in_charge_of_a_report_sees_it_but_none_around_the_accused(
    api: Api,
) -> None:
    report = petition_by(
        42,
        type="report",
        category="discipline.official",
        title="检举村干部优亲厚友",
        content="红星村村委会主任在低保评定中优亲厚友。",
        accused={"name": "李四", "position": "村委会主任"},
    )
    pid = api.client.post("/api/v1/petitions", json=report).json()["id"]
    routed(api, pid)
    # the county's government is above the bureau that registered it: it sees it
    assert (
        api.client.get(f"/api/v1/petitions/{pid}", headers=api.auth("qinghe.party_gov", "leader"))
    ).status_code == 200
    legal = api.auth("qinghe.political_legal", "leader")
    assert api.client.get(f"/api/v1/petitions/{pid}", headers=legal).status_code == 404
    bureau = api.auth("qinghe.petition_bureau", "supervisor")
    leaders = f"/api/v1/petitions/{pid}/leaders"
    for around in ("qinghe.qingshi.hongxing", "qinghe.qingshi.gov"):
        r = api.client.post(leaders, json={"unit_id": around}, headers=bureau)
        assert r.status_code == 409, (around, r.text)
    r = api.client.post(leaders, json={"unit_id": "qinghe.political_legal"}, headers=bureau)
    assert r.status_code == 200, r.text
    assert api.client.get(f"/api/v1/petitions/{pid}", headers=legal).status_code == 200
    # the grant is to the unit's leaders, not to every role of it
    handler = api.auth("qinghe.political_legal", "handler")
    assert api.client.get(f"/api/v1/petitions/{pid}", headers=handler).status_code == 404
