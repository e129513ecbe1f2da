"""Who sees a petition and who acts on it: the lead unit's staff act; its superiors
(by the unit tree) see it; assisting units see it and add notes; a report never
reaches the unit it accuses; a leader put in charge (包案) sees it; notes stay
internal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deadline_scheduler.sweep import sweep
from shared.calendar import OfficialCalendar
from shared.db import make_engine, make_session_factory
from shared.timeutil import utcnow
from tests.helpers import petition, petition_by, wait_for
from tests.services.conftest import Api, routed

PHONE = "13800138000"
ACCUSED_UNIT = "qinghe.qingshi.hongxing"
REPORT = {
    "type": "report",
    "title": "反映村干部侵占集体资金",
    "content": "红星村党支部书记李四侵占村集体土地补偿款，群众多次反映无果。",
    "category": "discipline.official",
    "accused": {"name": "李四", "position": "村党支部书记", "unit_id": ACCUSED_UNIT},
}
REQUISITION = {
    "title": "征地补偿款未足额发放",
    "content": "红星村土地被征收用于修路，补偿款至今未足额发放到户。",
    "category": "land.requisition",
}


def submit(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    r = api.client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def get(api: Api, pid: str, headers: dict[str, str], what: str = "") -> Any:
    return api.client.get(f"/api/v1/petitions/{pid}{what}", headers=headers)


def post(api: Api, pid: str, endpoint: str, headers: dict[str, str], **body: Any) -> Any:
    return api.client.post(f"/api/v1/petitions/{pid}/{endpoint}", json=body, headers=headers)


def worklist(api: Api, headers: dict[str, str], **params: Any) -> list[str]:
    r = api.client.get("/api/v1/petitions", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()]


def status_of(api: Api, pid: str) -> str:
    return get(api, pid, api.registrar).json()["status"]


def timeline(api: Api, pid: str) -> list[dict[str, Any]]:
    r = get(api, pid, api.registrar, "/timeline")
    assert r.status_code == 200, r.text
    return r.json()


def test_only_the_lead_units_staff_act_and_its_superiors_see_it(api: Api) -> None:
    pid = submit(api, petition())["id"]
    assert routed(api, pid)["routing"]["lead_unit"] == "qinghe.hrss"
    education = api.auth("qinghe.education", "handler")
    county = api.auth("qinghe.party_gov", "handler")
    city = api.auth("shifan.party_gov", "handler")
    village = api.auth("qinghe.qingshi.hongxing", "handler")

    # another department cannot see it at all: its existence is not disclosed
    for what in ("", "/timeline"):
        r = get(api, pid, education, what)
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    nobody = "00000000-0000-0000-0000-000000000000"
    hidden, missing = get(api, pid, education), get(api, nobody, education)
    assert hidden.json()["detail"].replace(pid, "") == missing.json()["detail"].replace(nobody, "")
    assert post(api, pid, "accept", education).status_code == 404
    assert get(api, pid, village).status_code == 404  # a unit below the lead does not see it
    assert pid not in worklist(api, education)

    # the superiors by the unit tree see it, and have it in their worklist, but do not act
    for superior in (county, city):
        assert get(api, pid, superior).status_code == 200
        assert get(api, pid, superior, "/timeline").status_code == 200
        assert pid in worklist(api, superior)
        refused = post(api, pid, "accept", superior, note="代为受理")
        assert refused.status_code == 403, refused.text
        assert "qinghe.hrss" in refused.json()["detail"]
        assert post(api, pid, "notes", superior, text="上级过问").status_code == 403
    assert status_of(api, pid) == "routed"

    # a registrar or supervisor sees every petition but does not handle it
    for role in ("registrar", "supervisor"):
        assert post(api, pid, "accept", api.auth("qinghe.hrss", role)).status_code == 403
    hrss = api.auth("qinghe.hrss", "handler")
    assert pid in worklist(api, hrss)
    r = post(api, pid, "accept", hrss, note="已联系施工单位核实")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "handling"


def test_an_assisting_unit_sees_it_and_adds_notes_but_does_not_act(api: Api) -> None:
    pid = submit(api, petition_by(1, **REQUISITION))["id"]
    routing = routed(api, pid)["routing"]
    assert routing["lead_unit"] == "qinghe.natural_resources"
    assert routing["assisting_units"] == ["qinghe.qingshi.gov"]
    township = api.auth("qinghe.qingshi.gov", "handler")

    assert get(api, pid, township).status_code == 200
    assert get(api, pid, township, "/timeline").status_code == 200
    r = post(api, pid, "notes", township, text="已派员核实红星村补偿款发放名册")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "routed"
    for endpoint, body in (
        ("accept", {}),
        ("decline", {"reason": "不属于本镇职责范围", "legal_basis": "第三十一条"}),
        ("return", {"reason": "不属于本镇职责范围"}),
    ):
        refused = post(api, pid, endpoint, township, **body)
        assert refused.status_code == 403, (endpoint, refused.text)
    assert status_of(api, pid) == "routed"
    # the assisting unit's subordinates do not see it (the tree goes down, not up)
    assert get(api, pid, api.auth("qinghe.qingshi.hongxing", "handler")).status_code == 404
    # a unit neither leading nor assisting cannot add notes
    assert post(api, pid, "notes", api.auth("qinghe.hrss", "handler"), text="x").status_code == 404

    lead = api.auth("qinghe.natural_resources", "handler")
    assert post(api, pid, "notes", lead, text="已与青石镇会商").status_code == 201
    assert post(api, pid, "accept", lead).status_code == 200
    notes = [e for e in timeline(api, pid) if e["kind"] == "note"]
    assert [n["detail"]["text"] for n in notes] == [
        "已派员核实红星村补偿款发放名册",
        "已与青石镇会商",
    ]


def test_a_report_never_reaches_the_unit_it_accuses(api: Api) -> None:
    pid = submit(api, petition_by(2, **REPORT))["id"]
    routing = routed(api, pid)["routing"]
    assert routing["lead_unit"] == "qinghe.qingshi.discipline"
    assert "whistleblower" in routing["flags"]
    assert pid in worklist(api, api.registrar)

    # not even the roles that see every petition of the jurisdiction
    for role in ("handler", "leader", "admin", "supervisor", "registrar"):
        accused = api.auth(ACCUSED_UNIT, role)
        for what in ("", "/timeline"):
            r = get(api, pid, accused, what)
            assert r.status_code == 404, (role, what, r.text)
        assert pid not in worklist(api, accused), role
        assert pid not in worklist(api, accused, unit_id="qinghe.qingshi.discipline"), role
        assert post(api, pid, "notes", accused, text="查看").status_code == 404
    assert post(api, pid, "accept", api.auth(ACCUSED_UNIT, "admin")).status_code == 404

    # the discipline unit that handles it does see it
    discipline = api.auth("qinghe.qingshi.discipline", "handler")
    assert get(api, pid, discipline).status_code == 200
    assert pid in worklist(api, discipline)

    # nor can a leader of the accused unit be put in charge of it
    supervisor = api.auth("qinghe.petition_bureau", "supervisor")
    r = post(api, pid, "leaders", supervisor, unit_id=ACCUSED_UNIT)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert get(api, pid, supervisor).json()["leaders"] == []
    assert get(api, pid, api.auth(ACCUSED_UNIT, "leader")).status_code == 404
    assert not [e for e in timeline(api, pid) if e["kind"] == "leader"]


def test_a_leader_put_in_charge_sees_the_case(api: Api) -> None:
    pid = submit(api, petition())["id"]
    routed(api, pid)
    leader = api.auth("qinghe.education", "leader")
    assert get(api, pid, leader).status_code == 404

    assert (
        post(
            api, pid, "leaders", api.auth("qinghe.hrss", "handler"), unit_id="qinghe.education"
        ).status_code
        == 403
    )
    assert (
        post(
            api, pid, "leaders", api.auth("qinghe.party_gov", "handler"), unit_id="qinghe.education"
        ).status_code
        == 403
    )
    supervisor = api.auth("qinghe.petition_bureau", "supervisor")
    unknown = post(api, pid, "leaders", supervisor, unit_id="qinghe.nowhere")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "unit_id"
    assert get(api, pid, leader).status_code == 404

    r = post(api, pid, "leaders", supervisor, unit_id="qinghe.education")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "routed"  # 包案 is not a step of the state machine
    assert get(api, pid, supervisor).json()["leaders"] == ["qinghe.education"]
    assert get(api, pid, leader).status_code == 200
    assert get(api, pid, leader, "/timeline").status_code == 200
    assert [e["detail"]["leader_unit"] for e in timeline(api, pid) if e["kind"] == "leader"] == [
        "qinghe.education"
    ]
    # assigning the same unit again changes nothing
    assert post(api, pid, "leaders", supervisor, unit_id="qinghe.education").status_code == 200
    assert len([e for e in timeline(api, pid) if e["kind"] == "leader"]) == 1

    # only that unit's leaders: its handlers still do not see it, and the leader does not act
    assert get(api, pid, api.auth("qinghe.education", "handler")).status_code == 404
    assert post(api, pid, "accept", leader).status_code == 403
    assert status_of(api, pid) == "routed"


def test_notes_are_on_the_staff_timeline_but_not_shown_to_the_petitioner(api: Api) -> None:
    receipt = submit(api, petition())
    pid = receipt["id"]
    routed(api, pid)
    secret = "内部：施工单位负责人王某态度消极，拟约谈"
    r = post(api, pid, "notes", api.auth("qinghe.hrss", "handler"), text=secret)
    assert r.status_code == 201, r.text
    staff = timeline(api, pid)
    assert any(e["kind"] == "note" and secret in e["summary"] for e in staff)
    assert get(api, pid, api.auth("qinghe.party_gov", "handler"), "/timeline").status_code == 200

    track = api.client.get(f"/api/v1/track/{receipt['query_code']}", params={"phone": PHONE})
    assert track.status_code == 200, track.text
    assert "note" not in [e["kind"] for e in track.json()["timeline"]]
    assert secret not in track.text and "王某" not in track.text
    # a note is not a step: the state is unchanged and the petitioner sees the same
    assert status_of(api, pid) == track.json()["status"] == "routed"


def test_the_worklist_lists_what_the_unit_assists_with_or_its_leader_is_in_charge_of(
    api: Api,
) -> None:
    assisted = submit(api, petition_by(1, **REQUISITION))["id"]
    in_charge = submit(api, petition_by(2))["id"]
    routed(api, assisted)
    routed(api, in_charge)
    supervisor = api.auth("qinghe.petition_bureau", "supervisor")
    assert (
        post(api, in_charge, "leaders", supervisor, unit_id="qinghe.education").status_code == 200
    )
    township = api.auth("qinghe.qingshi.gov", "handler")
    leader = api.auth("qinghe.education", "leader")
    assert get(api, assisted, township).status_code == 200
    assert get(api, in_charge, leader).status_code == 200
    missing = []
    if assisted not in worklist(api, township):
        missing.append("the assisting unit's worklist lacks the petition it assists with")
    if in_charge not in worklist(api, leader):
        missing.append("the leader's worklist lacks the petition it is in charge of (包案)")
    # a supervisor asking for the township's worklist gets what it assists with, too
    if assisted not in worklist(api, supervisor, unit_id="qinghe.qingshi.gov"):
        missing.append("?unit_id= lists only what the unit leads")
    if in_charge in worklist(api, supervisor, unit_id="qinghe.education"):
        missing.append("?unit_id= lists a case only a leader of the unit is in charge of")
    assert not missing, missing
    # the leader's unit's handlers are not in charge of it
    assert in_charge not in worklist(api, api.auth("qinghe.education", "handler"))


def test_a_page_of_the_worklist_is_full_even_when_a_report_is_hidden_from_the_caller(
    api: Api,
) -> None:
    # the petition bureau's registrars see every petition but a report against their
    # own bureau: pages of two, the newest first, skip it without coming up short
    report = {
        **REPORT,
        "accused": {"name": "赵六", "position": "接访科科长", "unit_id": "qinghe.petition_bureau"},
    }
    ids = [submit(api, petition_by(40 + i))["id"] for i in range(2)]
    hidden = submit(api, petition_by(43, **report))["id"]
    ids += [submit(api, petition_by(44 + i))["id"] for i in range(2)]
    for pid in ids:
        routed(api, pid)
    discipline = api.auth("qinghe.discipline", "supervisor")  # the report is in casework
    wait_for(lambda: get(api, hidden, discipline).status_code == 200)
    newest_first = list(reversed(ids))
    pages = [worklist(api, api.registrar, limit=2, offset=o) for o in (0, 2, 4)]
    assert pages == [newest_first[:2], newest_first[2:], []]


def test_the_accused_unit_cannot_read_the_report_through_other_endpoints(api: Api) -> None:
    # a report against an official of the county petition bureau, where the
    # registrars and supervisors who can read every other petition work
    accused_unit = "qinghe.petition_bureau"
    body = petition_by(
        3,
        **{
            **REPORT,
            "title": "反映信访局干部刁难群众",
            "content": "县信访局接访科科长赵六多次刁难前来反映问题的群众。",
            "accused": {"name": "赵六", "position": "接访科科长", "unit_id": accused_unit},
        },
    )
    # the discipline organ's case system subscribes to new petitions: the report's
    # copies go to it (nothing listens on port 9: they stay pending or fail)
    hook = api.client.post(
        "/api/v1/webhook-subscriptions",
        json={
            "unit_id": "qinghe.discipline",
            "url": "http://127.0.0.1:9/events",
            "event_types": ["cn.xinfang.petition.received", "cn.xinfang.petition.routed"],
        },
        headers=api.auth("qinghe.petition_bureau", "admin"),
    )
    assert hook.status_code == 201, hook.text
    pid = submit(api, body)["id"]
    discipline = api.auth("qinghe.discipline", "supervisor")

    def handled() -> dict[str, Any] | None:
        r = get(api, pid, discipline)
        return r.json() if r.status_code == 200 and r.json()["status"] == "routed" else None

    assert wait_for(handled)["routing"]["lead_unit"] == "qinghe.discipline"
    wait_for(
        lambda: {"webhook", "new_case"}
        <= {
            n["kind"]
            for n in api.client.get(
                "/api/v1/notices", params={"petition_id": pid}, headers=discipline
            ).json()
        }
    )
    leaks = []
    for role in ("registrar", "supervisor", "admin"):
        accused = api.auth(accused_unit, role)
        assert get(api, pid, accused).status_code == 404  # casework keeps it hidden
        assert pid not in worklist(api, accused)
        if pid in api.client.get("/api/v1/deadlines", headers=accused).text:
            leaks.append(f"{role}: /deadlines lists it")
        if api.client.get(f"/api/v1/routing/decisions/{pid}", headers=accused).status_code == 200:
            leaks.append(f"{role}: /routing/decisions/{{id}} is readable")
        notices = api.client.get("/api/v1/notices", params={"petition_id": pid}, headers=accused)
        if notices.status_code == 200 and notices.json():
            leaks.append(f"{role}: /notices shows {len(notices.json())} notices")
        for state in ("pending", "sent", "delivered", "failed", "dead"):
            listed = api.client.get("/api/v1/notices", params={"state": state}, headers=accused)
            if listed.status_code == 200 and pid in listed.text:
                leaks.append(f"{role}: /notices?state={state} shows the report's notices")
        # nor learn who reported them (a supervisor may read no one's personal data)
        identity = api.client.get(
            f"/api/v1/petitions/{pid}/personal-data", params={"reason": "核实情况"}, headers=accused
        )
        if identity.status_code != (403 if role == "supervisor" else 404):
            leaks.append(f"{role}: /personal-data answers {identity.status_code}")
        # nor re-send a copy of it they were never shown
        [copy, *_] = [n for n in notices_of(api, pid, discipline) if n["kind"] == "webhook"]
        redrive = api.client.post(f"/api/v1/notices/{copy['id']}/redrive", headers=accused)
        # (a registrar may re-send nothing at all: 403 whatever the notice)
        if redrive.status_code != (403 if role == "registrar" else 404):
            leaks.append(f"{role}: /notices/{{id}}/redrive answers {redrive.status_code}")
    assert not leaks, leaks

    # The ladder runs to its end: the supervision order goes to the handling organ's
    # superior and, but for the accusation, to the bureau's supervisors, who are left
    # out of the stage itself, not merely of its notices.
    sweep(
        make_session_factory(make_engine(api.url)),
        now=utcnow() + timedelta(days=90),
        calendar=OfficialCalendar(),
    )

    def urging() -> list[dict[str, Any]] | None:
        r = get(api, pid, discipline, "/timeline")
        entries = [e for e in r.json() if e["kind"] == "urging"]
        return (
            entries
            if {"supervised", "accountability"} <= {e["detail"]["stage"] for e in entries}
            else None
        )

    told = {r for e in wait_for(urging) for r in e["detail"]["recipients"]}
    assert "unit:shifan.discipline:leader" in told
    assert not [r for r in told if r.startswith(f"unit:{accused_unit}")]
    wait_for(lambda: any(n["kind"] == "urging" for n in notices_of(api, pid, discipline)))
    addressed = {n["recipient"] for n in notices_of(api, pid, discipline)}
    assert not [r for r in addressed if r.startswith(f"unit:{accused_unit}")], addressed


def notices_of(api: Api, pid: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = api.client.get("/api/v1/notices", params={"petition_id": pid}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())
