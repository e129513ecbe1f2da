"""The petitioner follows the case with query code + phone, rates, asks for review."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from services.casework.models import CaseView
from shared.db import make_engine, make_session_factory, transaction
from shared.timeutil import utcnow
from tests.helpers import petition, wait_for
from tests.services.conftest import Api

PHONE = "13800138000"


def submitted(api: Api) -> dict[str, str]:
    receipt = api.client.post("/api/v1/petitions", json=petition()).json()

    def tracked() -> dict | None:
        r = api.client.get(f"/api/v1/track/{receipt['query_code']}", params={"phone": PHONE})
        return r.json() if r.status_code == 200 and r.json()["deadlines"] else None

    wait_for(tracked)
    return receipt


def set_case(url: str, petition_id: str, **values: object) -> None:
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        session.execute(
            update(CaseView).where(CaseView.petition_id == petition_id).values(**values)
        )
    engine.dispose()


def test_a_petitioner_sees_progress_masked_and_without_internal_notes(api: Api) -> None:
    receipt = submitted(api)
    # what a petitioner types: lower case, no dashes, spaces
    code = receipt["query_code"].replace("-", " ").lower()
    r = api.client.get(f"/api/v1/track/{code}", params={"phone": "+86 138-0013-8000"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status_name"] == "已分办"
    assert view["handling_unit"] == "清河县人力资源和社会保障局"
    assert view["petitioners"] == ["张*"]
    assert view["deadlines"][0]["step_name"] == "登记、转送、交办"
    kinds = [e["kind"] for e in view["timeline"]]
    assert kinds[0] == "received" and "routed" in kinds
    text = r.text
    assert PHONE not in text and "11010519491231002X" not in text
    assert "unit:" not in text  # notices to units are internal
    assert "competence_and_territory" not in text  # no internal reasons


def test_the_petitioner_reads_their_notices_in_full_and_only_theirs(api: Api) -> None:
    receipt = submitted(api)

    def inbox() -> list[dict] | None:
        r = api.client.get(f"/api/v1/track/{receipt['query_code']}", params={"phone": PHONE})
        notices = [e for e in r.json()["timeline"] if e["kind"] == "notice"]
        return notices if len(notices) == 2 else None

    receipt_notice, routed_notice = wait_for(inbox)
    assert receipt_notice["summary"] == "已向您发送通知：您的信访事项已登记"
    assert receipt["query_code"] in receipt_notice["text"]
    assert receipt_notice["text"].startswith("张*：")  # masked, as the notice was written
    assert routed_notice["summary"] == "已向您发送通知：您的信访事项已转送办理"
    assert "清河县人力资源和社会保障局" in routed_notice["text"]


def test_a_wrong_phone_or_code_reads_as_not_found(api: Api) -> None:
    receipt = submitted(api)
    wrong = api.client.get(
        f"/api/v1/track/{receipt['query_code']}", params={"phone": "13900139000"}
    )
    unknown = api.client.get("/api/v1/track/ABCD-EFGH-JKLM", params={"phone": PHONE})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert api.client.get(f"/api/v1/track/{receipt['query_code']}").status_code == 422


def test_rating_waits_for_the_reply_and_happens_once(api: Api) -> None:
    receipt = submitted(api)
    url = f"/api/v1/track/{receipt['query_code']}/evaluation"
    early = api.client.post(url, params={"phone": PHONE}, json={"rating": "satisfied"})
    assert early.status_code == 409
    assert "答复" in early.json()["detail"]
    set_case(api.url, receipt["id"], replied_at=utcnow() - timedelta(days=2), status="replied")
    bad = api.client.post(url, params={"phone": PHONE}, json={"rating": "great"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rating"
    ok = api.client.post(
        url, params={"phone": PHONE}, json={"rating": "basically_satisfied", "comment": "还行"}
    )
    assert ok.status_code == 201, ok.text
    assert (
        api.client.post(url, params={"phone": PHONE}, json={"rating": "satisfied"}).status_code
        == 409
    )
    timeline = api.client.get(
        f"/api/v1/petitions/{receipt['id']}/timeline", headers=api.registrar
    ).json()
    assert any(e["kind"] == "evaluation" and "基本满意" in e["summary"] for e in timeline)


def test_review_only_inside_thirty_days_of_the_reply(api: Api) -> None:
    receipt = submitted(api)
    url = f"/api/v1/track/{receipt['query_code']}/review-request"
    body = {"kind": "review", "reason": "对答复不服"}
    assert api.client.post(url, params={"phone": PHONE}, json=body).status_code == 409
    set_case(api.url, receipt["id"], replied_at=utcnow() - timedelta(days=45), status="replied")
    late = api.client.post(url, params={"phone": PHONE}, json=body)
    assert late.status_code == 409 and "30日" in late.json()["detail"]
    set_case(api.url, receipt["id"], replied_at=utcnow() - timedelta(days=3))
    ok = api.client.post(url, params={"phone": PHONE}, json=body)
    assert ok.status_code == 201, ok.text
    assert ok.json()["window_closes_at"].endswith("+08:00")
    # re-examination needs a review opinion first
    again = api.client.post(
        url, params={"phone": PHONE}, json={"kind": "re_examination", "reason": "不服复查"}
    )
    assert again.status_code == 409 and "复查意见" in again.json()["detail"]
