"""The public contract's conventions: problem details, authentication, health."""

from __future__ import annotations

import re

import pytest

from tests.helpers import petition
from tests.services.conftest import Api, routed

PROBLEM = "application/problem+json"


def count_petitions(api: Api) -> int:
    return len(api.client.get("/api/v1/petitions", headers=api.registrar).json())


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"petitioners": [{"name": "张三", "phone": "12345"}]}, "petitioners.0.phone", "手机号"),
        (
            {
                "petitioners": [
                    {"name": "张三", "phone": "13800138000", "id_number": "110105194912310021"}
                ]
            },
            "petitioners.0.id_number",
            "校验位",
        ),
        ({"division_code": "990101999999"}, "division_code", "区划"),
        ({"division_code": "99"}, "division_code", "12 位"),
        ({"category": "no.such"}, "category", "类别"),
        ({"title": ""}, "title", "内容"),
        ({"content": "字" * 10_001}, "content", "过长"),
        ({"people_count": 0}, "people_count", "不能小于"),
        # strict types: a boolean is not a count, a string is not a flag
        ({"people_count": True}, "people_count", "整数"),
        ({"people_count": "5"}, "people_count", "整数"),
        ({"anonymous": "false"}, "anonymous", "true 或 false"),
        ({"type": "gossip"}, "type", "可选"),
        ({"petitioners": []}, "petitioners", "信访人"),
        ({"anonymous": True, "petitioners": [], "type": "complaint"}, "anonymous", "检举控告"),
        ({"unexpected": 1}, "unexpected", "不认识"),
        ({"addressed_to": "nobody"}, "addressed_to", "不存在"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    api: Api, changes: dict[str, object], field: str, words: str
) -> None:
    r = api.client.post("/api/v1/petitions", json=petition(**changes))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    doc = r.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(doc)
    fields = {e["field"]: e["message"] for e in doc["errors"]}
    assert field in fields, doc
    assert words in fields[field]
    assert count_petitions(api) == 0


def test_malformed_json_is_a_problem_not_a_crash(api: Api) -> None:
    r = api.client.post(
        "/api/v1/petitions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["errors"] == [{"field": "body", "message": "请求体不是合法的 JSON"}]


HAS_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("extend", {"days": True}, "days", "整数"),  # not one day, and not the one extension
        ("extend", {"days": "30"}, "days", "整数"),
        ("extend", {"days": 1.5}, "days", "整数"),
        ("pause", {"kind": "holiday"}, "kind", "可选：'hearing'、'material'"),
    ],
)
def test_a_steps_bad_values_are_named_in_chinese_and_change_nothing(
    api: Api, path: str, body: dict[str, object], field: str, words: str
) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition()).json()["id"]
    routed(api, pid)
    hrss = api.auth("qinghe.hrss", "handler")
    assert api.client.post(f"/api/v1/petitions/{pid}/accept", json={}, headers=hrss).is_success
    full = {"days": 30, "reason": "需等待劳动监察调查结果", "approved_by": "王局长"}
    if path == "pause":
        full = {"reason": "请信访人补充劳动合同复印件"}
    r = api.client.post(f"/api/v1/petitions/{pid}/{path}", json={**full, **body}, headers=hrss)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == field and words in error["message"], error
    assert not HAS_LATIN_WORD.search(
        error["message"].replace("'hearing'", "").replace("'material'", "")
    )
    record = api.client.get(f"/api/v1/petitions/{pid}", headers=hrss).json()
    assert (record["status"], record["allowed_steps"]) == ("handling", ["extend", "pause", "reply"])


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://12345.example.gov.cn/events", "网址须以 'http'、'https' 开头"),
        ("not a url", "应为网址（如 https://example.gov.cn/path）"),
        ("https://12345.example.gov.cn/" + "x" * 500, "网址过长（最多 500 个字符）"),
    ],
)
def test_a_webhook_url_that_cannot_be_used_is_named_in_chinese(
    api: Api, url: str, words: str
) -> None:
    r = api.client.post(
        "/api/v1/webhook-subscriptions",
        json={
            "system": "hotline-12345",
            "url": url,
            "event_types": ["cn.xinfang.petition.received"],
        },
        headers=api.auth("qinghe.party_gov", "admin"),
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "url", "message": words}]


def test_unknown_paths_and_methods_are_problems(api: Api) -> None:
    r = api.client.get("/api/v1/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)
    assert "找不到" in r.json()["detail"]
    r = api.client.delete("/api/v1/petitions")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith(PROBLEM)


def test_staff_endpoints_need_a_valid_token_in_the_right_role(api: Api) -> None:
    url = "/api/v1/petitions"
    assert api.client.get(url).status_code == 401
    assert api.client.get(url).headers["www-authenticate"].startswith("Bearer")
    assert api.client.get(url, headers={"Authorization": "Bearer xft_forged"}).status_code == 401
    assert api.client.get(url, headers={"Authorization": "Basic abc"}).status_code == 401
    handler = api.auth("qinghe.hrss", "handler")
    assert api.client.get(url, headers=handler).status_code == 200
    r = api.client.get("/api/v1/notices", params={"petition_id": "x"}, headers=handler)
    assert r.status_code == 403
    assert "handler" in r.json()["detail"]


def test_a_revoked_token_stops_working(api: Api, tmp_path: object) -> None:
    from shared.db import make_engine, make_session_factory, transaction
    from shared.security import create_token, revoke

    engine = make_engine(api.url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        token_id, token = create_token(session, unit_id="qinghe.hrss", role="handler")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/petitions", headers=headers).status_code == 200
    with transaction(factory) as session:
        revoke(session, token_id)
    engine.dispose()
    assert api.client.get("/api/v1/petitions", headers=headers).status_code == 401


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "bus": "ok"}


def test_openapi_documents_every_endpoint_with_chinese(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/petitions" in spec["paths"]
    post = spec["paths"]["/api/v1/petitions"]["post"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in post["summary"])
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert any(e["value"]["title"] == "工地拖欠农民工工资" for e in examples.values())


def test_every_endpoint_has_a_chinese_summary_and_body_example(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    missing = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            where = f"{method.upper()} {path}"
            if not any("\u4e00" <= ch <= "\u9fff" for ch in op.get("summary", "")):
                missing.append(f"{where}: summary")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and not (body.get("examples") or body.get("example")):
                missing.append(f"{where}: example")
    assert not missing, missing


def test_the_fuzzers_findings_stay_fixed(api: Api) -> None:
    admin = api.auth("qinghe.petition_bureau", "admin")
    site = {
        "name": "红星村工地",
        "kind": "construction_site",
        "division_code": "990101100201",
        "unit_id": "qinghe.qingshi.gov",
        "expires_in_days": False,
    }
    r = api.client.post("/api/v1/qr-sites", json=site, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "expires_in_days"
    # a path served only for POST answers 405 to a GET, not a 422 for a bad id
    r = api.client.get("/api/v1/routing/rulesets/rollback", headers=admin)
    assert r.status_code == 405, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    # a body that cannot even be decoded is told off in Chinese
    r = api.client.post(
        "/api/v1/petitions",
        content=b'{"title": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert re.search(r"[\u4e00-\u9fff]", r.json()["detail"]), r.text


def test_the_openapi_document_says_how_to_authenticate_and_every_problem(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["StaffToken"] == {**schemes["StaffToken"], "type": "http", "scheme": "bearer"}
    assert schemes["ApiKey"]["in"] == "header" and schemes["ApiKey"]["name"] == "X-Api-Key"
    record = doc["paths"]["/api/v1/petitions/{petition_id}"]["get"]
    assert record["security"] == [{"StaffToken": []}, {"ApiKey": []}]
    for status in ("401", "403", "404", "422"):
        assert PROBLEM in record["responses"][status]["content"], status
    steps = doc["paths"]["/api/v1/petitions/{petition_id}/accept"]["post"]
    assert steps["security"] == [{"StaffToken": []}]
    assert {"401", "403", "404", "409", "422"} <= set(steps["responses"])
    submit = doc["paths"]["/api/v1/petitions"]["post"]
    assert "security" not in submit and {"409", "422", "429"} <= set(submit["responses"])
    assert "429" in doc["paths"]["/api/v1/track/{query_code}"]["get"]["responses"]
    # every problem documented is a problem document
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for status, answer in op.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    assert PROBLEM in answer.get("content", {}), (method, path, status)


def test_the_api_pages_open_without_any_cdn(api: Api) -> None:
    """A government intranet reaches no CDN: Swagger UI and ReDoc come from the app."""
    for page in ("/docs", "/redoc"):
        r = api.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        linked = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert linked, page
        for url in linked:
            assert url.startswith("/"), (page, url)  # nothing from another host
            assert api.client.get(url).status_code == 200, url
        assert "fonts.googleapis" not in r.text
    js = api.client.get("/docs-static/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"] and len(js.content) > 100_000


def test_json_answers_are_plain_utf8(api: Api) -> None:
    """Chinese is sent as UTF-8, never as \\\\uXXXX escapes."""
    for r in (
        api.client.get("/api/v1/petitions/nope", headers=api.registrar),
        api.client.post("/api/v1/petitions", json={}),
        api.client.get("/openapi.json"),
    ):
        assert b"\\u" not in r.content.replace(b"\\\\u", b""), r.content[:200]
        assert re.search(r"[\u4e00-\u9fff]", r.content.decode("utf-8")), r.content[:200]
