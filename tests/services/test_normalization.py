"""What a petitioner leaves out is found, and explained, or asked for; repeats are linked."""

from __future__ import annotations

from typing import Any

from tests.helpers import petition, wait_for
from tests.services.conftest import Api


def routed(api: Api, pid: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        r = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar)
        return r.json() if r.status_code == 200 and r.json()["routing"] else None

    return wait_for(probe)


def without(*fields: str, **changes: Any) -> dict[str, Any]:
    body = petition(**changes)
    for name in fields:
        body.pop(name, None)
    return body


def test_the_place_is_found_from_the_address(api: Api) -> None:
    body = without("division_code", address="青石镇红星村三组", category="neighbour.dispute")
    r = api.client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    rec = routed(api, r.json()["id"])
    assert rec["division_code"] == "990101100201"
    assert "「青石镇」「红星村」" in rec["normalization"]["division_code"]["explanation"]
    assert rec["routing"]["lead_unit"] == "qinghe.qingshi.hongxing"


def test_the_category_is_found_from_the_text_and_the_type_follows(api: Api) -> None:
    body = without(
        "category", "type", title="反映问题", content="老板拖欠农民工工资三个月，讨薪无果。"
    )
    r = api.client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    rec = routed(api, r.json()["id"])
    assert rec["category"] == "labor.wage_arrears"
    assert rec["type"] == "complaint"
    report = without(
        "category",
        "type",
        title="举报",
        content="村支书贪污集体资金，优亲厚友。",
    )
    rec = routed(api, api.client.post("/api/v1/petitions", json=report).json()["id"])
    assert rec["category"] == "discipline.official"
    assert rec["type"] == "report"


def test_what_cannot_be_found_is_asked_for_by_field(api: Api) -> None:
    cases = [
        (without("division_code", address="北京市朝阳区"), "division_code", "没有找到"),
        (without("division_code", address="青石镇河口村"), "division_code", "不属于同一地方"),
        (without("division_code", "address"), "division_code", "区划代码"),
        (without("category", title="你好", content="请领导关注一下。"), "category", "类别"),
    ]
    for body, field, words in cases:
        r = api.client.post("/api/v1/petitions", json=body)
        assert r.status_code == 422, r.text
        errors = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert words in errors[field], errors
        assert len(r.json()["errors"]) == 1, r.json()["errors"]  # one message per field
    assert api.client.get("/api/v1/petitions", headers=api.registrar).json() == []


def test_the_same_matter_from_the_same_person_is_linked_and_flagged(api: Api) -> None:
    first = api.client.post("/api/v1/petitions", json=petition()).json()["id"]
    routed(api, first)
    again = petition(
        content="我们在红星村安置房工地干活，老板拖欠十二名工人三个月的工资八万多元，至今未解决。"
    )
    second = api.client.post("/api/v1/petitions", json=again).json()["id"]
    rec = routed(api, second)
    assert "repeat" in rec["routing"]["flags"]
    assert rec["repeat_of"] == first
    assert "相似" in rec["normalization"]["repeat_of"]["explanation"]
    # another matter of the same person is not a repeat
    other = petition(
        category="housing.property", title="物业", content="小区物业乱收费，电梯长期故障无人维修。"
    )
    rec = routed(api, api.client.post("/api/v1/petitions", json=other).json()["id"])
    assert "repeat" not in rec["routing"]["flags"]
    # the same text from someone else is not a repeat either
    stranger = petition(petitioners=[{"name": "李四", "phone": "13911112222"}])
    rec = routed(api, api.client.post("/api/v1/petitions", json=stranger).json()["id"])
    assert "repeat" not in rec["routing"]["flags"]


def test_the_petitioners_own_words_are_stored_and_shown_as_written(api: Api) -> None:
    """Folding is for codes, numbers and matching, not for what the citizen wrote."""
    body = petition(
        title="工地拖欠工资！！（第二次反映）",
        content="老板说：“下个月一定给”，可到现在１２月了还没给，共计８０００元……",
        petitioners=[
            {"name": "张三", "phone": "１３８００１３８０００", "address": "红星村三组（东头）"}
        ],
    )
    r = api.client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    record = routed(api, r.json()["id"])
    assert record["title"] == body["title"]
    assert record["content"] == body["content"]
    # the phone, a number, is folded: the petitioner tracks with either form
    code = r.json()["query_code"]
    for phone in ("13800138000", "１３８００１３８０００"):
        assert api.client.get(f"/api/v1/track/{code}", params={"phone": phone}).status_code == 200
