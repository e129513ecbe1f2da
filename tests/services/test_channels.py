"""Every channel ends in one normalized petition; personal data stays protected."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from shared.db import make_engine, make_session_factory
from tests.helpers import petition, wait_for
from tests.services.conftest import Api


def stored(api: Api, table: str = "petition") -> int:
    engine = make_engine(api.url)
    with make_session_factory(engine)() as session:
        n = session.scalar(select(func.count()).select_from(text(table))) or 0
    engine.dispose()
    return n


def record(api: Api, pid: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        r = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar)
        return (
            r.json()
            if r.status_code == 200 and r.json()["routing"] and r.json()["deadlines"]
            else None
        )

    return wait_for(probe)


def ticket(**changes: Any) -> dict[str, Any]:
    body = petition(
        channel="hotline", source_system="12345热线平台", external_ref="GD001", call_id="C-1"
    )
    body["caller_phone"] = "13800138000"
    body.update(changes)
    return body


def test_a_hotline_ticket_pushed_twice_is_one_petition(api: Api, api_key: dict[str, str]) -> None:
    first = api.client.post("/api/v1/hotline/tickets", json=ticket(), headers=api_key)
    assert first.status_code == 201, first.text
    again = api.client.post(
        "/api/v1/hotline/tickets", json=ticket(title="重复推送"), headers=api_key
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert stored(api) == 1
    other = api.client.post(
        "/api/v1/hotline/tickets", json=ticket(external_ref="GD002"), headers=api_key
    )
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    rec = record(api, first.json()["id"])
    assert rec["channel"] == "hotline"
    assert rec["routing"]["lead_unit"] == "qinghe.hrss"


def test_hotline_needs_a_key_or_staff(api: Api) -> None:
    assert api.client.post("/api/v1/hotline/tickets", json=ticket()).status_code == 401
    handler = api.auth("qinghe.hrss", "handler")
    assert (
        api.client.post("/api/v1/hotline/tickets", json=ticket(), headers=handler).status_code
        == 403
    )
    assert stored(api) == 0


def test_a_letter_runs_from_its_receipt(api: Api) -> None:
    body = petition(
        channel="mail", postmarked_on="2026-11-20", received_at="2026-11-23T09:00:00+08:00"
    )
    body["petitioners"] = [
        {"name": "王五", "address": "清河县白沙镇河口村"}
    ]  # letters may have no phone
    r = api.client.post("/api/v1/mail/letters", json=body, headers=api.registrar)
    assert r.status_code == 201, r.text
    assert r.json()["received_at"] == "2026-11-23T09:00:00+08:00"
    rec = record(api, r.json()["id"])
    # 15 days from 2026-11-23 (not counted) ends 2026-12-08
    assert rec["deadlines"][0]["due_at"] == "2026-12-08T23:59:59+08:00"


def test_a_letter_cannot_be_received_before_its_postmark_or_in_the_future(api: Api) -> None:
    body = petition(
        channel="mail", postmarked_on="2026-11-25", received_at="2026-11-23T09:00:00+08:00"
    )
    r = api.client.post("/api/v1/mail/letters", json=body, headers=api.registrar)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "postmarked_on"
    body = petition(channel="mail", received_at="2099-01-01T09:00:00+08:00")
    r = api.client.post("/api/v1/mail/letters", json=body, headers=api.registrar)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "received_at"
    naive = petition(channel="mail", received_at="2026-11-23T09:00:00")
    assert (
        api.client.post("/api/v1/mail/letters", json=naive, headers=api.registrar).status_code
        == 422
    )
    assert stored(api) == 0


def test_a_collective_visit_needs_one_to_five_representatives(api: Api) -> None:
    body = petition(channel="visit", people_count=12)
    r = api.client.post("/api/v1/visits", json=body, headers=api.registrar)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "representatives"
    reps = [{"name": f"代表{i}", "phone": f"1390013900{i}"} for i in range(6)]
    r = api.client.post(
        "/api/v1/visits", json={**body, "representatives": reps}, headers=api.registrar
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "representatives"
    assert stored(api) == 0
    r = api.client.post(
        "/api/v1/visits", json={**body, "representatives": reps[:2]}, headers=api.registrar
    )
    assert r.status_code == 201, r.text
    rec = record(api, r.json()["id"])
    assert "collective" in rec["routing"]["flags"]
    assert stored(api, "petition_person") == 3  # the petitioner and two representatives


def test_an_endpoint_takes_only_its_own_channel(api: Api) -> None:
    r = api.client.post("/api/v1/petitions", json=petition(channel="hotline"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel"
    assert (
        api.client.post(
            "/api/v1/petitions", json=petition(channel="miniprogram", openid="o-123")
        ).status_code
        == 201
    )


def test_full_personal_data_is_for_registrars_and_every_read_is_audited(
    api: Api, api_key: dict[str, str]
) -> None:
    pid = api.client.post("/api/v1/hotline/tickets", json=ticket(), headers=api_key).json()["id"]
    url = f"/api/v1/petitions/{pid}/personal-data"
    handler = api.auth("qinghe.hrss", "handler")
    assert api.client.get(url, params={"reason": "核实"}, headers=handler).status_code == 403
    assert api.client.get(url, headers=api.registrar).status_code == 422  # a reason is required
    r = api.client.get(url, params={"reason": "电话回访核实"}, headers=api.registrar)
    assert r.status_code == 200, r.text
    person = r.json()["people"][0]
    assert person["phone"] == "13800138000"
    assert person["id_number"] == "11010519491231002X"
    assert r.json()["caller_phone"] == "13800138000"
    assert stored(api, "personal_data_read") == 1
    # stored encrypted: the plain values are nowhere in the table
    engine = make_engine(api.url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id_number_enc, phone_enc, id_number_hash FROM petition_person")
        ).all()
    engine.dispose()
    assert all(
        "13800138000" not in str(row) and "11010519491231002X" not in str(row) for row in rows
    )


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


def attachment(data: bytes, content_type: str, name: str = "材料") -> dict[str, str]:
    import base64

    return {
        "name": name,
        "content_type": content_type,
        "data_base64": base64.b64encode(data).decode(),
    }


def test_attachments_are_checked_by_their_bytes_and_stored(api: Api) -> None:
    files = [attachment(PNG, "image/png", "../../etc/欠条.png"), attachment(PDF, "application/pdf")]
    r = api.client.post("/api/v1/petitions", json=petition(attachments=files))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    rec = record(api, pid)
    assert [a["name"] for a in rec["attachments"]] == ["_.._etc_欠条.png", "材料"]
    got = api.client.get(f"/api/v1/petitions/{pid}/attachments/0", headers=api.registrar)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    # the handling unit may fetch them; another unit may not
    assert (
        api.client.get(
            f"/api/v1/petitions/{pid}/attachments/1", headers=api.auth("qinghe.hrss", "handler")
        ).content
        == PDF
    )
    other = api.auth("qinghe.education", "handler")
    assert (
        api.client.get(f"/api/v1/petitions/{pid}/attachments/1", headers=other).status_code == 404
    )


def test_a_report_s_material_never_reaches_the_accused(api: Api) -> None:
    body = petition(
        type="report",
        category="discipline.official",
        accused={"name": "李四", "unit_id": "qinghe.qingshi.hongxing"},
        attachments=[attachment(PDF, "application/pdf")],
    )
    pid = api.client.post("/api/v1/petitions", json=body).json()["id"]
    record(api, pid)
    accused = api.auth("qinghe.qingshi.hongxing", "admin")
    assert (
        api.client.get(f"/api/v1/petitions/{pid}/attachments/0", headers=accused).status_code == 404
    )
    discipline = api.auth("qinghe.qingshi.discipline", "handler")
    assert (
        api.client.get(f"/api/v1/petitions/{pid}/attachments/0", headers=discipline).status_code
        == 200
    )


def test_bad_attachments_are_refused_and_nothing_is_stored(api: Api) -> None:
    cases = [
        (
            [attachment(b"MZ\x90\x00 not allowed", "application/octet-stream")],
            "attachments.0.data_base64",
            "不支持",
        ),
        ([attachment(PDF, "image/jpeg", "伪装.jpg")], "attachments.0.content_type", "PDF"),
        (
            [attachment(PNG + b"\x00" * (600 * 1024), "image/png")],
            "attachments.0.data_base64",
            "KB",
        ),
        ([attachment(PDF + b"0" * (360 * 1024), "application/pdf")] * 2, "attachments", "合计"),
        (
            [{"name": "x.png", "content_type": "image/png", "data_base64": "…"}],
            "attachments.0.data_base64",
            "Base64",
        ),
    ]
    for files, field, words in cases:
        r = api.client.post("/api/v1/petitions", json=petition(attachments=files))
        assert r.status_code == 422, (field, r.text)
        fields = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert field in fields and words in fields[field], (field, fields)
    assert stored(api) == 0
