"""A unit that is not competent returns the petition within 5 working days; routing
decides again without it; a unit designated after a return cannot return it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from deadline_scheduler.models import Deadline
from deadline_scheduler.service import close_steps
from shared.db import make_engine, make_session_factory, transaction
from shared.events import PETITION_ACCEPTED, OutboxEvent
from shared.timeutil import utcnow
from tests.helpers import petition, wait_for
from tests.services.conftest import Api


def routing_of(api: Api, pid: str, round_lead: str | None = None) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
        routing = rec.get("routing")
        if (
            not routing
            or (round_lead and routing["lead_unit"] != round_lead)
            or rec["status"] == "returned"
        ):
            return None
        return rec

    return wait_for(probe)


def test_a_returned_petition_is_routed_again_without_the_unit(api: Api) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition()).json()["id"]
    assert routing_of(api, pid)["routing"]["lead_unit"] == "qinghe.hrss"
    url = f"/api/v1/petitions/{pid}/return"
    other = api.auth("qinghe.education", "handler")
    assert (
        api.client.post(url, json={"reason": "不属于本局职责范围"}, headers=other).status_code
        == 404
    )
    hrss = api.auth("qinghe.hrss", "handler")
    assert api.client.post(url, json={"reason": "短"}, headers=hrss).status_code == 422
    r = api.client.post(url, json={"reason": "该事项属劳动合同争议，不属于本局职责"}, headers=hrss)
    assert r.status_code == 200, r.text
    assert r.json()["window_closes_at"].endswith("+08:00")

    rec = routing_of(api, pid, round_lead="qinghe.petition_bureau")
    assert rec["routing"]["reasons"][0]["rule"] == "returned"
    assert "退回" in rec["routing"]["reasons"][0]["because"]
    timeline = api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar).json()
    assert [e["kind"] for e in timeline].count("routed") == 2
    assert any(e["kind"] == "returned" for e in timeline)

    # the unit that returned it is no longer the handler; the new one cannot return it
    assert api.client.post(url, json={"reason": "再次退回试试看"}, headers=hrss).status_code in (
        403,
        404,
    )
    bureau = api.auth("qinghe.petition_bureau", "handler")
    again = api.client.post(url, json={"reason": "也不属于本局职责"}, headers=bureau)
    assert again.status_code == 409
    assert "不能再次退回" in again.json()["detail"]

    # The new unit has its own acceptance clock. A late copy of round 1's events (a
    # distributed bus may deliver it after round 2's) does not stop it.
    engine = make_engine(api.url)
    factory = make_session_factory(engine)

    def round_two_clock() -> bool:
        with transaction(factory) as session:
            open_ = select(Deadline.step).where(
                Deadline.petition_id == pid, Deadline.state != "met"
            )
            return "accept#2" in session.scalars(open_).all()

    wait_for(round_two_clock)
    with transaction(factory) as session:
        assert close_steps(session, petition_id=pid, steps=("accept",), at=utcnow(), round_=1) == 0

    # The bureau accepts: its step says which round it belongs to, and ends that
    # round's clock.
    r = api.client.post(f"/api/v1/petitions/{pid}/accept", json={}, headers=bureau)
    assert r.status_code == 200, r.text
    with transaction(factory) as session:
        [accepted] = session.scalars(
            select(OutboxEvent.envelope).where(
                OutboxEvent.subject == pid, OutboxEvent.type == PETITION_ACCEPTED
            )
        ).all()
    assert (
        accepted["data"]["round"] == 2 and accepted["data"]["unit_id"] == "qinghe.petition_bureau"
    )

    def accept_met() -> bool:
        with transaction(factory) as session:
            met = select(Deadline.step).where(Deadline.petition_id == pid, Deadline.state == "met")
            return "accept#2" in session.scalars(met).all()

    wait_for(accept_met)
    engine.dispose()


def test_every_decision_can_be_read_back_with_its_facts_and_trace(api: Api) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition()).json()["id"]
    routing_of(api, pid)
    decisions = api.client.get(f"/api/v1/routing/decisions/{pid}", headers=api.registrar).json()
    (first,) = decisions
    assert first["facts"]["category"] == "labor.wage_arrears"
    assert first["units_used"]["qinghe.hrss"]["name"] == "清河县人力资源和社会保障局"
    assert any(t["rule"] == "competence_and_territory" and t["fired"] for t in first["trace"])
    assert first["ruleset_version"] == first["routing"]["ruleset_version"]
    assert (
        api.client.get("/api/v1/routing/decisions/nope", headers=api.registrar).status_code == 404
    )
