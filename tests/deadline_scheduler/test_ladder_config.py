"""The urging ladder is configuration (DOMAIN.md): a county redefines when each rung
falls and who hears of it in its time-limits file; a ladder that does not climb is
refused, naming where; open deadlines move to the new rungs at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from deadline_scheduler.ladder import ladder_from_data, stage_times
from deadline_scheduler.models import Deadline
from deadline_scheduler.sweep import sweep
from shared.calendar import OfficialCalendar
from shared.db import make_engine, make_session_factory, transaction
from tests.deadline_scheduler.test_sweep import opened
from tests.helpers import wait_for
from tests.services.conftest import Api

CAL = OfficialCalendar()
DEMO_LIMITS = [
    {"step": "handle", "level": level, "length": days, "unit": "working_days"}
    for level, days in (("village", 5), ("township", 10), ("county", 15))
]
# A county that reminds a week ahead and recommends accountability after ten days.
SLOWER = [
    {"stage": "reminded", "to": "handler", "offset_working_days": -5},
    {"stage": "urged", "to": "unit_and_head", "offset_working_days": 0},
    {"stage": "supervised", "to": "superior_and_supervision", "offset_working_days": 2},
    {"stage": "accountability", "to": "discipline", "offset_working_days": 10},
]


def put(api: Api, body: dict[str, Any]) -> Any:
    return api.client.put(
        "/api/v1/time-limits", json=body, headers=api.auth("qinghe.petition_bureau", "admin")
    )


def ladders(api: Api) -> dict[str, dict[str, Any]]:
    r = api.client.get("/api/v1/urging-ladders", headers=api.registrar)
    assert r.status_code == 200, r.text
    return {ladder["name"]: ladder for ladder in r.json()}


def test_a_ladder_that_does_not_climb_is_refused_naming_where(api: Api) -> None:
    r = put(
        api,
        {
            "time_limits": [{**DEMO_LIMITS[0], "ladder": "nope"}],
            "ladders": {
                "backwards": [
                    {"stage": "urged", "to": "unit_and_head", "offset_working_days": 0},
                    {"stage": "reminded", "to": "handler", "offset_working_days": 0},
                ],
                "mixed": [
                    {"stage": "reminded", "to": "handler", "offset_hours": -4},
                    {"stage": "urged", "to": "unit_and_head", "offset_working_days": 0},
                ],
                "both": [
                    {
                        "stage": "reminded",
                        "to": "handler",
                        "offset_working_days": -3,
                        "offset_hours": 1,
                    }
                ],
                "earlier": [
                    {"stage": "reminded", "to": "handler", "offset_working_days": 2},
                    {"stage": "urged", "to": "unit_and_head", "offset_working_days": 0},
                ],
            },
        },
    )
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors == {
        "time_limits.0.ladder": "没有名为 nope 的催办阶梯；可选：backwards、both、collective、default、earlier、mixed",
        "ladders.backwards": "各阶段须按提醒、催办、督办、追责的顺序排列，且不重复",
        "ladders.mixed": "同一阶梯的各阶段须同以工作日或同以小时计",
        "ladders.both.0": "须给出 offset_working_days（工作日）或 offset_hours（小时）之一",
        "ladders.earlier": "后一阶段不能早于前一阶段",
    }
    # nothing changed: the regulation's ladders are in force
    assert not any(ladder["local"] for ladder in ladders(api).values())


def test_a_countys_own_ladder_moves_open_deadlines_to_its_rungs(api: Api) -> None:
    pid, due = opened(api, 8)
    r = put(api, {"time_limits": DEMO_LIMITS, "ladders": {"default": SLOWER}})
    assert r.status_code == 200, r.text
    shown = ladders(api)
    assert shown["default"]["local"] is True and shown["collective"]["local"] is False
    assert [(s["stage"], s["offset_working_days"]) for s in shown["default"]["stages"]] == [
        ("reminded", -5),
        ("urged", 0),
        ("supervised", 2),
        ("accountability", 10),
    ]
    assert shown["default"]["stages"][0]["title"] == "提醒（黄色）"

    at = {s.name: t for s, t in stage_times(due, ladder_from_data(SLOWER), CAL)}
    engine = make_engine(api.url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        next_at = session.scalar(
            select(Deadline.next_stage_at).where(
                Deadline.petition_id == pid, Deadline.step == "accept"
            )
        )
    # the acceptance deadline's due date did not move, its next rung did
    assert next_at == at["reminded"]
    assert sweep(factory, now=at["reminded"] - timedelta(minutes=1), calendar=CAL) == 0
    assert sweep(factory, now=at["reminded"], calendar=CAL) == 1
    # an hour before the county's accountability day, long after the regulation's
    # (5 working days overdue): only the urging notice and the supervision order
    assert sweep(factory, now=at["accountability"] - timedelta(hours=1), calendar=CAL) == 2
    assert sweep(factory, now=at["accountability"], calendar=CAL) == 1
    engine.dispose()


def test_a_rung_added_below_one_already_issued_is_never_sent(api: Api) -> None:
    # a county first without reminders: the urging notice goes out on the deadline day;
    # then it adds the reminder back, whose day has passed
    pid, due = opened(api, 9)
    assert put(api, {"time_limits": DEMO_LIMITS, "ladders": {"default": SLOWER[1:]}}).is_success
    at = {s.name: t for s, t in stage_times(due, ladder_from_data(SLOWER), CAL)}
    engine = make_engine(api.url)
    factory = make_session_factory(engine)
    assert sweep(factory, now=at["urged"], calendar=CAL) == 1
    assert put(api, {"time_limits": DEMO_LIMITS, "ladders": {"default": SLOWER}}).is_success
    with transaction(factory) as session:
        deadline = session.scalars(
            select(Deadline).where(Deadline.petition_id == pid, Deadline.step == "accept")
        ).one()
        assert (deadline.state, deadline.next_stage_at) == ("urged", at["supervised"])
    assert sweep(factory, now=at["supervised"], calendar=CAL) == 1  # the red one, not the yellow
    engine.dispose()

    def stages() -> list[str] | None:
        r = api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar)
        found = [e["detail"]["stage"] for e in r.json() if e["kind"] == "urging"]
        return found if len(found) == 2 else None

    assert wait_for(stages) == ["urged", "supervised"]
