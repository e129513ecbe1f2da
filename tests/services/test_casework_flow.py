"""A petition's life through the handling unit's steps, and the clocks they move:
local time limits by level, pauses, the one extension, the reply and the windows
after it, review and re-examination, and the end (三级终结)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from deadline_scheduler.models import Deadline
from services.casework.models import CaseDeadline
from shared.db import make_engine, make_session_factory, transaction
from shared.timeutil import utcnow
from tests.helpers import petition, petition_by, wait_for
from tests.services.conftest import Api

PHONE = "13800138000"
OPINION = {
    "outcome": "supported",
    "facts": "经核实，施工单位拖欠工资属实",
    "legal_basis": "《保障农民工工资支付条例》第三十条",
    "opinion": "责令施工总承包单位于 10 日内先行清偿",
}


def record(api: Api, pid: str) -> dict[str, Any]:
    return api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()


def deadline(api: Api, pid: str, step: str, state: str | None = None) -> dict[str, Any]:
    """The step's deadline once casework shows it (in `state`, if given)."""

    def probe() -> dict[str, Any] | None:
        for d in record(api, pid).get("deadlines") or []:
            if d["step"] == step and (state is None or d["state"] == state):
                return d
        return None

    return wait_for(probe)


def submitted(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    receipt = api.client.post("/api/v1/petitions", json=body or petition()).json()
    deadline(api, receipt["id"], "accept")
    return receipt


def step(api: Api, pid: str, name: str, headers: dict[str, str], **body: Any) -> Any:
    return api.client.post(f"/api/v1/petitions/{pid}/{name}", json=body, headers=headers)


def timeline(api: Api, pid: str) -> list[dict[str, Any]]:
    return api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar).json()


def notices(api: Api, pid: str) -> list[dict[str, Any]]:
    return api.client.get(
        "/api/v1/notices", params={"petition_id": pid}, headers=api.registrar
    ).json()


def test_accepting_starts_the_countys_own_handling_limit(api: Api) -> None:
    pid = submitted(api)["id"]
    hrss = api.auth("qinghe.hrss", "handler")
    r = step(api, pid, "accept", hrss, note="已联系施工单位核实")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "handling"
    assert r.json()["allowed_steps"] == ["extend", "pause", "reply"]
    assert deadline(api, pid, "accept", "met")["state"] == "met"
    handle = deadline(api, pid, "handle")
    # qinghe.hrss is a county department: 15 working days, not the regulation's 60 days
    basis = handle["basis"]
    assert (basis["length"], basis["unit"], basis["level"]) == (15, "working_days", "county")
    assert basis["local_limit"] is True
    accepted = datetime.fromisoformat(basis["start"]).date()
    assert datetime.fromisoformat(handle["due_at"]).date() - accepted >= timedelta(days=19)
    # the petitioner is told
    wait_for(lambda: [n for n in notices(api, pid) if n["kind"] == "step_accepted"])
    track = api.client.get(
        f"/api/v1/track/{record(api, pid)['query_code']}", params={"phone": PHONE}
    ).json()
    assert track["status"] == "handling" and "受理" in track["status_name"]


def test_villages_and_townships_have_their_own_shorter_limits(api: Api) -> None:
    # A neighbours' dispute is the village committee's; village affairs the township's.
    for n, category, lead, days in (
        (1, "neighbour.dispute", "qinghe.qingshi.hongxing", 5),
        (2, "village.affairs", "qinghe.qingshi.gov", 10),
    ):
        body = petition_by(n, category=category, title="邻里纠纷", content="邻居占用通道，调解未果")
        pid = submitted(api, body)["id"]
        assert record(api, pid)["routing"]["lead_unit"] == lead
        assert step(api, pid, "accept", api.auth(lead, "handler")).status_code == 200
        basis = deadline(api, pid, "handle")["basis"]
        assert (basis["length"], basis["unit"]) == (days, "working_days")


def move_due(
    api: Api, pid: str, step: str, due_at: datetime, tables: tuple[type[Any], ...]
) -> None:
    """Set a deadline's date straight in the tables named (the scheduler's own, and
    casework's copy of it), as if that much time had gone by."""
    engine = make_engine(api.url)
    with transaction(make_session_factory(engine)) as session:
        for table in tables:
            session.execute(
                update(table)
                .where(table.petition_id == pid, table.step == step)
                .values(due_at=due_at)
            )
    engine.dispose()


def test_pausing_stops_the_clock_and_resuming_restarts_it(api: Api) -> None:
    pid = submitted(api)["id"]
    hrss = api.auth("qinghe.hrss", "handler")
    step(api, pid, "accept", hrss)
    before = deadline(api, pid, "handle")
    r = step(api, pid, "pause", hrss, kind="material", reason="请信访人补充劳动合同复印件")
    assert r.status_code == 200 and r.json()["status"] == "paused"
    assert r.json()["allowed_steps"] == ["resume"]
    deadline(api, pid, "handle", "paused")
    # a paused deadline is not overdue, whatever its date: not even when the date it
    # had before the pause has gone by (the supervisors' two worklists agree)
    move_due(api, pid, "handle", utcnow() - timedelta(days=2), tables=(Deadline, CaseDeadline))
    assert pid not in [
        p["id"]
        for p in api.client.get(
            "/api/v1/petitions", params={"overdue": "true"}, headers=api.registrar
        ).json()
    ]
    paused = api.client.get(
        "/api/v1/deadlines", params={"state": "paused"}, headers=api.registrar
    ).json()
    assert [d["overdue"] for d in paused if d["petition_id"] == pid] == [False]
    assert step(api, pid, "reply", hrss, **OPINION).status_code == 409
    r = step(api, pid, "resume", hrss, note="信访人已补充材料")
    assert r.status_code == 200 and r.json()["status"] == "handling"
    after = deadline(api, pid, "handle", "open")
    assert after["basis"]["pauses"][0]["kind"] == "material"
    assert after["basis"]["pauses"][0]["end"] is not None
    # paused and resumed the same day: no day is lost or gained
    assert after["due_at"] == before["due_at"]
    kinds = [e["kind"] for e in timeline(api, pid)]
    assert "paused" in kinds and "resumed" in kinds


def test_one_extension_of_at_most_thirty_days_approved_by_the_head(api: Api) -> None:
    pid = submitted(api)["id"]
    hrss, head = api.auth("qinghe.hrss", "handler"), api.auth("qinghe.hrss", "leader")
    step(api, pid, "accept", hrss)
    before = deadline(api, pid, "handle")
    ask = {"days": 30, "reason": "需等待劳动监察调查结果", "approved_by": "王局长"}
    assert step(api, pid, "extend", hrss, **ask).status_code == 403  # not the head
    too_long = step(api, pid, "extend", head, **{**ask, "days": 31})
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "days"
    r = step(api, pid, "extend", head, **ask)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "extended"

    def moved() -> dict[str, Any] | None:
        d = deadline(api, pid, "handle")
        return d if d["basis"]["extension_days"] == 30 else None

    after = wait_for(moved)
    gained = datetime.fromisoformat(after["due_at"]) - datetime.fromisoformat(before["due_at"])
    assert timedelta(days=30) <= gained <= timedelta(days=38)  # rolled past a holiday at most
    again = step(api, pid, "extend", head, **ask)
    assert again.status_code == 409
    told = wait_for(lambda: [n for n in notices(api, pid) if n["kind"] == "step_extended"])
    assert "30 日" in told[0]["body"] and "劳动监察" in told[0]["body"]


def test_no_extension_nor_pause_once_the_period_has_run_out(api: Api) -> None:
    pid = submitted(api)["id"]
    hrss, head = api.auth("qinghe.hrss", "handler"), api.auth("qinghe.hrss", "leader")
    step(api, pid, "accept", hrss)
    deadline(api, pid, "handle")
    move_due(api, pid, "handle", utcnow() - timedelta(days=1), tables=(CaseDeadline,))
    overdue = api.client.get("/api/v1/petitions", params={"overdue": "true"}, headers=api.registrar)
    assert pid in [p["id"] for p in overdue.json()]
    ask = {"days": 10, "reason": "需等待调查结果", "approved_by": "王局长"}
    late = step(api, pid, "extend", head, **ask)
    assert late.status_code == 409 and "届满" in late.json()["detail"]
    # nor can the clock be stopped once it has run out
    stop = step(api, pid, "pause", hrss, kind="material", reason="请补充劳动合同复印件")
    assert stop.status_code == 409 and "不能再中止计时" in stop.json()["detail"]
    assert record(api, pid)["status"] == "handling"


def test_from_reply_to_re_examination_the_matter_is_finalized(api: Api) -> None:
    receipt = submitted(api)
    pid, code = receipt["id"], receipt["query_code"]
    hrss = api.auth("qinghe.hrss", "handler")
    step(api, pid, "accept", hrss)
    deadline(api, pid, "handle")
    bad = step(api, pid, "reply", hrss, **{**OPINION, "outcome": "maybe"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "outcome"
    r = step(api, pid, "reply", hrss, **OPINION)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "replied"
    assert deadline(api, pid, "handle", "met")["state"] == "met"
    wait_for(lambda: [n for n in notices(api, pid) if n["kind"] == "step_replied"])

    track = f"/api/v1/track/{code}"
    ok = api.client.post(
        f"{track}/review-request", params={"phone": PHONE}, json={"reason": "工资仍未足额发放"}
    )
    assert ok.status_code == 201, ok.text
    # review goes one level up from the unit that replied
    review = deadline(api, pid, "review")
    assert review["unit_id"] == "qinghe.party_gov" and review["basis"]["length"] == 30
    assert step(api, pid, "review", hrss, **OPINION).status_code == 403
    county = api.auth("qinghe.party_gov", "handler")
    r = step(api, pid, "review", county, **{**OPINION, "outcome": "partly_supported"})
    assert r.status_code == 200 and r.json()["status"] == "reviewed"
    deadline(api, pid, "review", "met")

    asked = api.client.post(
        f"{track}/review-request",
        params={"phone": PHONE},
        json={"kind": "re_examination", "reason": "对复查意见不服"},
    )
    assert asked.status_code == 201, asked.text
    re_exam = deadline(api, pid, "re_examination")
    assert re_exam["unit_id"] == "shifan.party_gov"
    city = api.auth("shifan.party_gov", "handler")
    # a hearing's time is not counted (art. 36)
    assert step(api, pid, "hearing", city, reason="定于下周举行听证").json()["status"] == "paused"
    deadline(api, pid, "re_examination", "paused")
    assert step(api, pid, "resume", city).json()["status"] == "re_examination_requested"
    r = step(api, pid, "re-examination", city, **{**OPINION, "outcome": "not_supported"})
    assert r.status_code == 200 and r.json()["status"] == "finalized"
    assert r.json()["allowed_steps"] == []
    kinds = [e["kind"] for e in timeline(api, pid)]
    for kind in ("accepted", "replied", "review_request", "reviewed", "re_examined", "finalized"):
        assert kind in kinds, kind

    # the petitioner is told of each opinion, and of where to go next
    def opinions_told() -> dict[str, str] | None:
        told = {n["kind"]: n["body"] for n in notices(api, pid)}
        return told if {"step_reviewed", "step_re_examined"} <= told.keys() else None

    told = wait_for(opinions_told)
    assert "部分支持" in told["step_reviewed"] and "请求复核" in told["step_reviewed"]
    assert "不再受理" in told["step_re_examined"]

    # The same matter raised again is declined as finalized, pointing at this case.
    again = api.client.post("/api/v1/petitions", json=petition()).json()

    def declined() -> dict[str, Any] | None:
        routing = record(api, again["id"]).get("routing")
        return routing if routing and routing["decision"] == "decline" else None

    assert wait_for(declined)["decline_reason"] == "finalized"


def test_a_unit_may_decline_with_reason_and_basis(api: Api) -> None:
    pid = submitted(api)["id"]
    hrss = api.auth("qinghe.hrss", "handler")
    short = step(api, pid, "decline", hrss, reason="不受理")
    assert short.status_code == 422
    assert {e["field"] for e in short.json()["errors"]} == {"reason", "legal_basis"}
    r = step(
        api,
        pid,
        "decline",
        hrss,
        reason="该事项已经人民法院判决生效",
        legal_basis="《信访工作条例》第三十一条",
    )
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert deadline(api, pid, "accept", "met")["basis"]["late"] is False
    told = wait_for(lambda: [n for n in notices(api, pid) if n["kind"] == "step_declined"])
    assert "判决生效" in told[0]["body"]


def test_a_collective_visit_runs_on_a_clock_in_hours(api: Api) -> None:
    body = petition(channel="visit", people_count=12)
    reps = [{"name": f"代表{i}", "phone": f"1390013900{i}"} for i in range(2)]
    r = api.client.post(
        "/api/v1/visits", json={**body, "representatives": reps}, headers=api.registrar
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    urgent = deadline(api, pid, "collective_response")
    assert (urgent["basis"]["unit"], urgent["basis"]["length"]) == ("hours", 24)
    assert urgent["basis"]["ladder"] == "collective"
    received = datetime.fromisoformat(record(api, pid)["received_at"])
    assert datetime.fromisoformat(urgent["due_at"]) - received == timedelta(hours=24)
    step(api, pid, "accept", api.auth(urgent["unit_id"], "handler"))
    assert deadline(api, pid, "collective_response", "met")["state"] == "met"


def test_changing_a_time_limit_recomputes_open_deadlines(api: Api) -> None:
    pid = submitted(api)["id"]
    step(api, pid, "accept", api.auth("qinghe.hrss", "handler"))
    deadline(api, pid, "handle")
    admin = api.auth("qinghe.petition_bureau", "admin")
    body = {
        "time_limits": [{"step": "handle", "level": "county", "length": 20, "unit": "working_days"}]
    }
    assert (
        api.client.put("/api/v1/time-limits", json=body, headers=api.registrar).status_code == 403
    )
    dup = {"time_limits": body["time_limits"] * 2}
    r = api.client.put("/api/v1/time-limits", json=dup, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "time_limits.1"
    hours = {"time_limits": [{**body["time_limits"][0], "unit": "hours"}]}
    r = api.client.put("/api/v1/time-limits", json=hours, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "time_limits.0.unit"
    r = api.client.put("/api/v1/time-limits", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["recomputed"] >= 1

    def twenty() -> dict[str, Any] | None:
        d = deadline(api, pid, "handle")
        return d if d["basis"]["length"] == 20 else None

    assert wait_for(twenty)["basis"]["local_limit"] is True
    assert any("时限调整" in e["summary"] for e in timeline(api, pid))
    shown = api.client.get("/api/v1/time-limits", headers=api.registrar).json()
    handle = next(p for p in shown if p["step"] == "handle")
    assert handle["default"]["length"] == 60
    assert handle["local"] == [
        {"level": "county", "length": 20, "unit": "working_days", "ladder": None}
    ]


def test_a_leader_in_charge_finds_the_case_in_the_worklist(api: Api) -> None:
    pid = submitted(api)["id"]
    leader = api.auth("qinghe.education", "leader")
    handler = api.auth("qinghe.education", "handler")

    def listed(headers: dict[str, str]) -> list[str]:
        r = api.client.get("/api/v1/petitions", headers=headers)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()]

    assert pid not in listed(leader)
    supervisor = api.auth("qinghe.petition_bureau", "supervisor")
    r = step(api, pid, "leaders", supervisor, unit_id="qinghe.education")
    assert r.status_code == 200, r.text
    assert record(api, pid)["leaders"] == ["qinghe.education"]
    assert pid in listed(leader)
    assert pid not in listed(handler)  # the leader's unit's other staff do not
    assert api.client.get(f"/api/v1/petitions/{pid}", headers=leader).status_code == 200
    # the lead unit's worklist has it too, the superior's as well
    assert pid in listed(api.auth("qinghe.hrss", "handler"))
    assert pid in listed(api.auth("qinghe.party_gov", "handler"))
