"""Notice texts: complete Chinese sentences, never a blank where a value was missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jinja2 import TemplateNotFound, UndefinedError

from notify_gateway.templates import render
from tests.services.conftest import Api
from tests.shared.test_limits import serve

RECEIPT = {
    "petitioner": "张三",
    "received_at": "2026年3月3日",
    "title": "工地拖欠农民工工资",
    "query_code": "QH7K2M9P",
}
NEW_CASE = {
    "unit_name": "清河县人力资源和社会保障局",
    "title": "工地拖欠农民工工资",
    "query_code": "QH7K2M9P",
    "role": "主办",
    "reasons": "「拖欠工资」事发地在青石镇红星村，交清河县人力资源和社会保障局办理",
}


def test_the_receipt_tells_the_petitioner_it_is_registered_and_how_to_follow_it():
    subject, body = render("receipt", RECEIPT)
    assert subject == "您的信访事项已登记"
    assert body.startswith("张三：")
    for value in RECEIPT.values():
        assert value in body
    assert "15日内" in body  # the art. 22 promise
    assert "{{" not in body and "{%" not in body


def test_the_new_case_notice_tells_the_unit_what_it_got_and_why():
    subject, body = render("new_case", NEW_CASE)
    assert subject == "新交办信访事项：工地拖欠农民工工资"
    assert body.startswith("清河县人力资源和社会保障局：")
    for value in NEW_CASE.values():
        assert value in body
    assert "主办" in body


def test_subject_and_body_are_trimmed():
    subject, body = render("new_case", NEW_CASE)
    assert subject == subject.strip() and body == body.strip()
    assert "\n" not in subject


@pytest.mark.parametrize("missing", sorted(RECEIPT))
def test_a_receipt_missing_a_value_raises_instead_of_leaving_a_blank(missing):
    context = {k: v for k, v in RECEIPT.items() if k != missing}
    with pytest.raises(UndefinedError, match=missing):
        render("receipt", context)


@pytest.mark.parametrize("missing", sorted(NEW_CASE))
def test_a_new_case_notice_missing_a_value_raises_instead_of_leaving_a_blank(missing):
    context = {k: v for k, v in NEW_CASE.items() if k != missing}
    with pytest.raises(UndefinedError, match=missing):
        render("new_case", context)


def test_an_unknown_notice_kind_is_an_error():
    with pytest.raises(TemplateNotFound):
        render("no_such_notice", {})


def test_rendering_is_pure_and_repeatable():
    assert render("receipt", RECEIPT) == render("receipt", dict(RECEIPT))
    other = render("receipt", {**RECEIPT, "petitioner": "李四"})
    assert other[1].startswith("李四：")
    assert render("receipt", RECEIPT)[1].startswith("张三：")


def test_text_is_not_html_escaped():
    # Notices go by SMS and e-mail as plain text; 「」 and < > must arrive as typed.
    _, body = render("receipt", {**RECEIPT, "title": "A<B>&C"})
    assert "「A<B>&C」" in body


# --- the preview endpoint ------------------------------------------------------------


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    with serve(db_url) as app:
        yield app


def preview(api: Api, kind: str, context: dict[str, Any]) -> Any:
    return api.client.post(
        f"/api/v1/notice-templates/{kind}/preview", json={"context": context}, headers=api.registrar
    )


def test_staff_preview_a_notice_as_it_would_be_sent_with_its_sms_count(api: Api) -> None:
    r = preview(api, "receipt", RECEIPT)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert (shown["kind"], shown["subject"]) == ("receipt", "您的信访事项已登记")
    assert shown["body"] == render("receipt", RECEIPT)[1]
    # 70 characters make one SMS; a longer text is sent in 67-character parts
    length = len(shown["body"])
    assert shown["sms_segments"] == (1 if length <= 70 else -(-length // 67))
    assert shown["sms_segments"] >= 2  # the receipt explains the art. 22 promise at length


def test_a_preview_missing_a_value_names_it_and_an_unknown_kind_lists_the_kinds(api: Api) -> None:
    r = preview(api, "receipt", {k: v for k, v in RECEIPT.items() if k != "petitioner"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "context.petitioner", "message": "模板需要此值，请在 context 中提供"}
    ]
    r = preview(api, "no_such_kind", RECEIPT)
    assert r.status_code == 404
    assert "receipt" in r.json()["detail"] and "urging" in r.json()["detail"]
    anonymous = api.client.post(
        "/api/v1/notice-templates/receipt/preview", json={"context": RECEIPT}
    )
    assert anonymous.status_code == 401
