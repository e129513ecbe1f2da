"""A distributed bus may deliver a petition's steps crossed (each event type has its
own consumer there): the scheduler still applies them in the order they were taken."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from deadline_scheduler.models import ParkedStep
from shared.db import make_engine, make_session_factory, transaction
from shared.events import (
    DEADLINE_OPENED,
    PETITION_PAUSED,
    PETITION_RESUMED,
    Envelope,
    OutboxEvent,
)
from shared.timeutil import utcnow
from tests.helpers import petition_by, wait_for
from tests.services.conftest import Api, routed


def handle_deadline(api: Api, pid: str) -> dict[str, Any] | None:
    rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
    found = [d for d in rec.get("deadlines") or [] if d["step"] == "handle"]
    return found[0] if found else None


def deliver_in_this_order(api: Api, *events: Envelope) -> None:
    """Put events on the bus in this order, whenever they happened."""
    engine = make_engine(api.url)
    with transaction(make_session_factory(engine)) as session:
        for e in events:
            session.add(
                OutboxEvent(
                    event_id=e.id,
                    type=e.type,
                    subject=e.subject,
                    envelope=e.to_json(),
                    created_at=utcnow(),
                    available_at=utcnow(),
                    attempts=0,
                )
            )
    engine.dispose()


def parked(api: Api) -> int:
    engine = make_engine(api.url)
    with transaction(make_session_factory(engine)) as session:
        count = session.scalar(select(func.count()).select_from(ParkedStep)) or 0
    engine.dispose()
    return count


def test_a_resume_delivered_before_its_pause_still_restarts_the_clock(api: Api) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition_by(51)).json()["id"]
    routed(api, pid)
    hrss = api.auth("qinghe.hrss", "handler")
    r = api.client.post(f"/api/v1/petitions/{pid}/accept", json={}, headers=hrss)
    assert r.status_code == 200, r.text
    before = wait_for(lambda: handle_deadline(api, pid))
    # casework's second and third clock steps (the acceptance was the first), as its
    # steps number them: material asked for now, arriving in three days; the resume
    # is delivered first
    now = utcnow()
    base = {"petition_id": pid, "unit_id": "qinghe.hrss", "round": 1}
    pause = Envelope(
        type=PETITION_PAUSED,
        source="/xinfang/casework",
        subject=pid,
        time=now,
        data={**base, "step": "pause", "clock_seq": 2, "kind": "material", "reason": "补充材料"},
    )
    resume = Envelope(
        type=PETITION_RESUMED,
        source="/xinfang/casework",
        subject=pid,
        time=now + timedelta(days=3),
        data={**base, "step": "resume", "clock_seq": 3, "kind": "material", "note": None},
    )
    deliver_in_this_order(api, resume, pause)

    def moved_on() -> dict[str, Any] | None:
        d = handle_deadline(api, pid)
        return d if d and d["due_at"] != before["due_at"] and d["state"] != "paused" else None

    after = wait_for(moved_on)
    # running again, later by the paused working days, and nothing left waiting
    assert after["state"] == "open"
    assert after["due_at"] > before["due_at"]
    assert len(after["basis"]["pauses"]) == 1 and after["basis"]["pauses"][0]["end"]
    assert parked(api) == 0


def test_a_clock_opening_delivered_after_its_pause_leaves_the_case_paused(api: Api) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition_by(52)).json()["id"]
    routed(api, pid)
    hrss = api.auth("qinghe.hrss", "handler")
    assert api.client.post(f"/api/v1/petitions/{pid}/accept", json={}, headers=hrss).is_success
    opened = wait_for(lambda: handle_deadline(api, pid))
    r = api.client.post(
        f"/api/v1/petitions/{pid}/pause",
        json={"kind": "material", "reason": "请信访人补充劳动合同复印件"},
        headers=hrss,
    )
    assert r.status_code == 200, r.text
    wait_for(lambda: (d := handle_deadline(api, pid)) and d["state"] == "paused")
    # the opening of the handling clock, as a distributed bus may deliver it: after
    # the pause that followed it (a copy, under its own id, so the bus takes it)
    engine = make_engine(api.url)
    with transaction(make_session_factory(engine)) as session:
        [original] = [
            e
            for e in session.scalars(
                select(OutboxEvent.envelope).where(
                    OutboxEvent.subject == pid, OutboxEvent.type == DEADLINE_OPENED
                )
            )
            if e["data"]["step"] == "handle"
        ]
    engine.dispose()
    late = Envelope.from_json(original)
    deliver_in_this_order(
        api,
        Envelope(type=late.type, source=late.source, subject=pid, time=late.time, data=late.data),
    )

    def openings() -> int:
        timeline = api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar)
        return sum(1 for e in timeline.json() if e["summary"].startswith("开始计时：办理"))

    wait_for(lambda: openings() == 2)
    now = handle_deadline(api, pid)
    assert now is not None and now["state"] == "paused"  # not reopened by the late copy
    assert now["basis"]["pauses"] and opened["basis"].get("pauses") in (None, [])
