"""Every step the state machine does not allow now is a 409 that names the steps
allowed now, and changes nothing: one petition is driven through every state a
petition can reach, and at each stop every staff step that is not allowed is tried."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from services.casework.lifecycle import STATUS_NAMES, STEPS
from tests.helpers import petition, petition_by
from tests.services.conftest import Api, routed

PHONE = "13800138000"
LEAD = "qinghe.hrss"
REVIEW_UNIT = "qinghe.party_gov"  # the lead unit's parent (art. 35)
RE_EXAMINATION_UNIT = "shifan.party_gov"  # the review unit's parent (art. 36)
OPINION = {
    "outcome": "partly_supported",
    "facts": "经核实，施工单位拖欠工资属实",
    "legal_basis": "《保障农民工工资支付条例》第三十条",
    "opinion": "责令施工总承包单位于 10 日内先行清偿",
}
EXTENSION = {"days": 30, "reason": "需等待劳动监察调查结果", "approved_by": "王局长"}
# endpoint -> (the step it takes, a valid body)
ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "accept": ("accept", {"note": "已联系施工单位核实"}),
    "decline": ("decline", {"reason": "该事项已经人民法院判决生效", "legal_basis": "第三十一条"}),
    "return": ("return", {"reason": "该事项属劳动合同争议，不属于本局职责"}),
    "extend": ("extend", EXTENSION),
    "pause": ("pause", {"kind": "material", "reason": "请补充劳动合同复印件"}),
    "hearing": ("pause", {"reason": "定于 12 月 5 日举行听证"}),
    "resume": ("resume", {"note": "信访人已补充材料"}),
    "reply": ("reply", OPINION),
    "review": ("review", OPINION),
    "re-examination": ("re_examine", OPINION),
}
# What the state machine allows in each state a petition can reach.
ALLOWED = {
    "routed": ["accept", "decline", "return"],
    "declined": [],
    "handling": ["extend", "pause", "reply"],
    "extended": ["pause", "reply"],
    "paused": ["resume"],
    "replied": ["evaluate", "request_review"],
    "evaluated": ["request_review"],
    "review_requested": ["review"],
    "reviewed": ["request_re_examination"],
    "re_examination_requested": ["pause", "re_examine"],
    "finalized": [],
}
# Timeline lines other services add when they follow a step (deadlines moved,
# notices sent, urging): they may arrive a moment after the step, so the "changes
# nothing" check compares the lines the steps themselves write.
FOLLOW_UP_KINDS = {"deadline", "notice", "urging"}


def record(api: Api, pid: str) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar)
    assert r.status_code == 200, r.text
    return r.json()


def step_lines(api: Api, pid: str) -> list[tuple[str, str, str]]:
    r = api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar)
    assert r.status_code == 200, r.text
    return [
        (e["kind"], e["event_type"], e["summary"])
        for e in r.json()
        if e["kind"] not in FOLLOW_UP_KINDS
    ]


def post(api: Api, pid: str, endpoint: str, headers: dict[str, str], **body: Any) -> Any:
    return api.client.post(f"/api/v1/petitions/{pid}/{endpoint}", json=body, headers=headers)


def actors(api: Api) -> dict[str, dict[str, str]]:
    """Who would take each step: the lead unit's staff, its head for an extension,
    the review and re-examination bodies for their opinions."""
    handler = api.auth(LEAD, "handler")
    return {
        "lead": handler,
        "lead_head": api.auth(LEAD, "leader"),
        "review": api.auth(REVIEW_UNIT, "handler"),
        "re_examination": api.auth(RE_EXAMINATION_UNIT, "handler"),
    }


def who_for(
    people: dict[str, dict[str, str]], step: str, re_examination: bool = False
) -> dict[str, str]:
    if step in ("pause", "resume") and re_examination:
        return people["re_examination"]  # the re-examining body holds the hearing (art. 36)
    return people[STEPS[step].actor]


def try_every_illegal_step(
    api: Api,
    pid: str,
    people: dict[str, dict[str, str]],
    expected_status: str,
    re_examination: bool = False,
) -> list[str]:
    """Try each staff step not allowed now, by the unit that would take it; each is
    a 409 naming the allowed steps (the same list GET reports) and nothing changes.
    Returns the endpoints tried."""
    before = record(api, pid)
    status, allowed = before["status"], before["allowed_steps"]
    assert status == expected_status
    assert allowed == ALLOWED[status]
    lines = step_lines(api, pid)
    tried = []
    for endpoint, (step, body) in ENDPOINTS.items():
        if step in allowed:
            continue
        tried.append(endpoint)
        r = post(api, pid, endpoint, who_for(people, step, re_examination), **body)
        assert r.status_code == 409, (status, endpoint, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 409, (endpoint, problem)  # RFC 9457: the HTTP status
        assert problem["case_status"] == status, (endpoint, problem)
        assert problem["allowed_steps"] == allowed, (endpoint, problem)
        detail = problem["detail"]
        assert STATUS_NAMES[status] in detail and STEPS[step].title in detail, detail
        assert all(f"{s}（{STEPS[s].title}）" in detail for s in allowed), detail
        if not allowed:
            assert "无" in detail.rsplit("：", 1)[1], detail
    after = record(api, pid)
    assert (after["status"], after["allowed_steps"]) == (status, allowed)
    assert after["leaders"] == before["leaders"]
    assert step_lines(api, pid) == lines, f"an illegal step in {status} changed the timeline"
    return tried


def take(api: Api, pid: str, endpoint: str, headers: dict[str, str], status: str, **body: Any):
    r = post(api, pid, endpoint, headers, **body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == status
    assert r.json()["allowed_steps"] == ALLOWED[status]
    return r


def track(api: Api, query_code: str, what: str, body: dict[str, Any]) -> None:
    r = api.client.post(f"/api/v1/track/{query_code}/{what}", params={"phone": PHONE}, json=body)
    assert r.status_code == 201, r.text


def test_every_illegal_step_is_a_409_naming_the_allowed_steps_and_changes_nothing(
    api: Api,
) -> None:
    people = actors(api)
    lead, head = people["lead"], people["lead_head"]
    receipt = api.client.post("/api/v1/petitions", json=petition()).json()
    # a second petition, from another petitioner, to be declined (a final state)
    other = api.client.post("/api/v1/petitions", json=petition_by(1)).json()
    pid, code = receipt["id"], receipt["query_code"]
    assert routed(api, pid)["routing"]["lead_unit"] == LEAD
    assert routed(api, other["id"])["routing"]["lead_unit"] == LEAD
    tried: dict[str, list[str]] = {}

    tried["routed"] = try_every_illegal_step(api, pid, people, "routed")
    take(api, other["id"], "decline", lead, "declined", **ENDPOINTS["decline"][1])
    tried["declined"] = try_every_illegal_step(api, other["id"], people, "declined")

    take(api, pid, "accept", lead, "handling")
    tried["handling"] = try_every_illegal_step(api, pid, people, "handling")

    # the extension: the unit's head, at most 30 days, once
    lines = step_lines(api, pid)
    by_handler = post(api, pid, "extend", lead, **EXTENSION)
    assert by_handler.status_code == 403, by_handler.text
    too_long = post(api, pid, "extend", head, **{**EXTENSION, "days": 31})
    assert too_long.status_code == 422, too_long.text
    assert [e["field"] for e in too_long.json()["errors"]] == ["days"]
    assert record(api, pid)["status"] == "handling" and step_lines(api, pid) == lines
    take(api, pid, "extend", head, "extended", **EXTENSION)
    again = post(api, pid, "extend", head, **{**EXTENSION, "days": 5})
    assert again.status_code == 409, again.text
    assert again.json()["allowed_steps"] == ALLOWED["extended"]
    tried["extended"] = try_every_illegal_step(api, pid, people, "extended")

    take(api, pid, "hearing", lead, "paused", reason="定于 12 月 5 日举行听证")
    tried["paused"] = try_every_illegal_step(api, pid, people, "paused")
    take(api, pid, "resume", lead, "extended", note="听证已举行")  # back where it was
    still = post(api, pid, "extend", head, **EXTENSION)
    assert still.status_code == 409, "an extension after a pause is still the second one"

    take(api, pid, "reply", lead, "replied", **OPINION)
    tried["replied"] = try_every_illegal_step(api, pid, people, "replied")

    track(api, code, "evaluation", {"rating": "dissatisfied", "comment": "工资仍未足额发放"})
    tried["evaluated"] = try_every_illegal_step(api, pid, people, "evaluated")

    track(api, code, "review-request", {"kind": "review", "reason": "对答复意见不服"})
    tried["review_requested"] = try_every_illegal_step(api, pid, people, "review_requested")

    take(api, pid, "review", people["review"], "reviewed", **OPINION)
    tried["reviewed"] = try_every_illegal_step(api, pid, people, "reviewed")

    track(api, code, "review-request", {"kind": "re_examination", "reason": "对复查意见不服"})
    tried["re_examination_requested"] = try_every_illegal_step(
        api, pid, people, "re_examination_requested", re_examination=True
    )

    # during a re-examination the re-examining body holds the hearing, not the lead unit
    hearing = {"reason": "复核机关定于 12 月 5 日举行听证"}
    assert post(api, pid, "hearing", lead, **hearing).status_code == 403
    take(api, pid, "hearing", people["re_examination"], "paused", **hearing)
    tried["paused (re-examination)"] = try_every_illegal_step(
        api, pid, people, "paused", re_examination=True
    )
    assert post(api, pid, "resume", lead, note="听证已举行").status_code == 403
    take(api, pid, "resume", people["re_examination"], "re_examination_requested")

    take(api, pid, "re-examination", people["re_examination"], "finalized", **OPINION)
    tried["finalized"] = try_every_illegal_step(api, pid, people, "finalized")

    # every staff endpoint was tried where the state machine does not allow it
    assert tried["finalized"] == tried["declined"] == list(ENDPOINTS)
    assert tried["routed"] == [
        "extend",
        "pause",
        "hearing",
        "resume",
        "reply",
        "review",
        "re-examination",
    ]
    assert (
        tried["paused"]
        == tried["paused (re-examination)"]
        == [e for e in ENDPOINTS if e != "resume"]
    )
    assert "pause" not in tried["re_examination_requested"]
    assert sum(map(len, tried.values())) == 95 + 9
    kinds = [kind for kind, _, _ in step_lines(api, pid)]
    assert kinds[-2:] == ["re_examined", "finalized"]


def test_a_review_body_too_early_is_told_what_is_allowed_now(api: Api) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition()).json()["id"]
    routed(api, pid)
    people = actors(api)
    for endpoint in ("review", "re-examination"):
        step, body = ENDPOINTS[endpoint]
        r = post(api, pid, endpoint, who_for(people, step), **body)
        assert r.status_code == 409, (endpoint, r.status_code, r.text)
        assert r.json()["allowed_steps"] == ALLOWED["routed"]


def at_once(count: int, send: Callable[[int], Any]) -> list[int]:
    """`count` requests released together (a double tap, two clerks at one case)."""
    start = threading.Barrier(count)
    statuses: list[int] = []

    def one(i: int) -> None:
        start.wait()
        statuses.append(send(i).status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def test_steps_taken_at_once_succeed_once_and_the_rest_are_told_why(api: Api) -> None:
    people = actors(api)
    # two clerks accept and decline the same petition at the same moment
    pid = api.client.post("/api/v1/petitions", json=petition_by(41)).json()["id"]
    routed(api, pid)
    accept, decline = ENDPOINTS["accept"][1], ENDPOINTS["decline"][1]
    statuses = at_once(
        6,
        lambda i: post(api, pid, "accept", people["lead"], **accept)
        if i % 2
        else post(api, pid, "decline", people["lead"], **decline),
    )
    assert statuses == [200] + [409] * 5, statuses
    decided = [k for k, _, _ in step_lines(api, pid) if k in ("accepted", "declined")]
    assert len(decided) == 1, decided

    # the petitioner taps "rate" twice (four times)
    receipt = api.client.post("/api/v1/petitions", json=petition_by(42)).json()
    pid, code = receipt["id"], receipt["query_code"]
    routed(api, pid)
    take(api, pid, "accept", people["lead"], "handling", **accept)
    take(api, pid, "reply", people["lead"], "replied", **OPINION)
    rate = {"rating": "satisfied", "comment": "处理及时"}
    statuses = at_once(
        4,
        lambda i: api.client.post(
            f"/api/v1/track/{code}/evaluation", params={"phone": "13900000042"}, json=rate
        ),
    )
    assert statuses == [201] + [409] * 3, statuses
    assert [k for k, _, _ in step_lines(api, pid)].count("evaluation") == 1
