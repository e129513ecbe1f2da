"""The statistics, from a small county's November built through the public API —
steps on time and late, a collective visit, a repeat, a return, a rating — checked
against counts worked out here from what the test did; the same figures after the
read model is rebuilt from the stored events; nothing of them for another county."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from deadline_scheduler.ladder import DEFAULT_LADDER, stage_times
from deadline_scheduler.sweep import sweep
from services.app import build_app
from services.reporting.service import rebuild
from shared.calendar import OfficialCalendar
from shared.db import make_engine, make_session_factory, transaction
from shared.directory import DirectoryCache, load_directory_file
from shared.events import OutboxEvent
from shared.timeutil import CHINA, travel_to, utcnow
from tests.conftest import load_demo, make_token
from tests.helpers import petition, petition_by, wait_for
from tests.services.conftest import settings_for
from tests.services.test_trust_boundary import SECOND_COUNTY

CAL = OfficialCalendar()
OPINION = {
    "outcome": "supported",
    "facts": "经核实，反映的情况属实",
    "legal_basis": "《信访工作条例》第三十二条",
    "opinion": "责令有关单位于十日内整改到位",
}


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=CHINA)


@dataclass
class County:
    client: TestClient
    url: str
    tokens: dict[str, dict[str, str]]

    def staff(self, unit: str, role: str) -> dict[str, str]:
        key = f"{unit}:{role}"
        if key not in self.tokens:
            self.tokens[key] = {"Authorization": f"Bearer {make_token(self.url, unit, role)}"}
        return self.tokens[key]

    def record(self, pid: str) -> dict[str, Any]:
        r = self.client.get(
            f"/api/v1/petitions/{pid}", headers=self.staff("qinghe.petition_bureau", "registrar")
        )
        return dict(r.json()) if r.status_code == 200 else {}

    def routed(self, pid: str, round_: int = 1) -> str | None:
        def probe() -> dict[str, Any] | None:
            rec = self.record(pid)
            steps = {d["step"] for d in rec.get("deadlines") or []}
            want = "accept" if round_ == 1 else f"accept#{round_}"
            if rec.get("status") == "declined" or want in steps:
                return rec
            return None

        return wait_for(probe)["routing"]["lead_unit"]

    def step(self, pid: str, name: str, unit: str, **body: Any) -> None:
        r = self.client.post(
            f"/api/v1/petitions/{pid}/{name}", json=body, headers=self.staff(unit, "handler")
        )
        assert r.status_code == 200, r.text

    def statistics(self, who: dict[str, str], **params: str) -> dict[str, Any]:
        r = self.client.get("/api/v1/statistics", params=params, headers=who)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
def county(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[County]:
    # the test sweeps when it means to: the interval job stays out of the way
    monkeypatch.setenv("SCHEDULER_SWEEP_SECONDS", "86400")
    load_demo(db_url)
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as session:
        load_directory_file(session, SECOND_COUNTY)
    engine.dispose()
    with travel_to(at("2026-11-02")):
        app = build_app(settings_for(db_url))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield County(client, db_url, {})


def settled(county: County) -> None:
    """Every stored event delivered to every consumer (the embedded bus marks an event
    published once all have handled it), the events they emitted too. Called before a
    block that moved the clock ends: the clock goes back with it, and an event stored
    at the later instant would wait for that instant to come round."""
    engine = make_engine(county.url)
    factory = make_session_factory(engine)

    def quiet() -> bool:
        with factory() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None), OutboxEvent.dead_at.is_(None))
            )
        return pending == 0

    wait_for(quiet, timeout=20)
    engine.dispose()


def submit(county: County, body: dict[str, Any]) -> dict[str, Any]:
    r = county.client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def november(county: County) -> dict[str, Any]:
    """The month as the test lived it; returns what it did, for the expectations."""
    c = county
    wage = petition_by(
        1, title="工地拖欠工资", content="红星村安置房工地拖欠十二名工人三个月工资。"
    )
    a = submit(c, wage)
    assert c.routed(a["id"]) == "qinghe.hrss"
    c.step(a["id"], "accept", "qinghe.hrss")
    visit = petition_by(
        2,
        channel="visit",
        title="小区物业乱收费",
        content="幸福里小区物业公司擅自上调物业费，业主多次交涉无果。",
        category="housing.property",
        people_count=6,
        representatives=[{"name": "代表甲", "phone": "13600000002"}],
    )
    r = c.client.post(
        "/api/v1/visits", json=visit, headers=c.staff("qinghe.petition_bureau", "registrar")
    )
    assert r.status_code == 201, r.text
    b = r.json()
    assert c.routed(b["id"]) == "qinghe.housing"
    c.step(b["id"], "accept", "qinghe.housing")
    d = submit(
        c,
        petition_by(
            3,
            title="社保断缴",
            content="单位拖欠社会保险费，导致养老保险断缴半年。",
            category="labor.social_insurance",
        ),
    )
    assert c.routed(d["id"]) == "qinghe.hrss"
    e = submit(
        c,
        petition_by(
            4,
            title="劳动合同到期不续签",
            content="公司劳动合同到期拒不续签，也不给经济补偿。",
            category="labor.social_insurance",
        ),
    )
    assert c.routed(e["id"]) == "qinghe.hrss"
    r = c.client.post(
        f"/api/v1/petitions/{e['id']}/return",
        json={"reason": "该事项属劳动合同争议，应由劳动人事争议仲裁委员会处理"},
        headers=c.staff("qinghe.hrss", "handler"),
    )
    assert r.status_code == 200, r.text
    e_lead = c.routed(e["id"], round_=2)
    assert e_lead and e_lead != "qinghe.hrss"
    c.step(e["id"], "accept", e_lead)

    with travel_to(at("2026-11-03")):
        # the same worker about the same wages again, while it is being handled
        again = submit(c, {**wage, "content": wage["content"] + "至今仍未解决。"})
        c.routed(again["id"])
        settled(c)
    with travel_to(at("2026-11-04")):
        c.step(a["id"], "reply", "qinghe.hrss", **OPINION)
        settled(c)
    with travel_to(at("2026-11-05")):
        r = c.client.post(
            f"/api/v1/track/{a['query_code']}/evaluation",
            params={"phone": "13900000001"},
            json={"rating": "satisfied"},
        )
        assert r.status_code == 201, r.text
        settled(c)
    # the month's end: the clocks still open by now have their rungs
    month_end = at("2026-11-30", 18)
    with travel_to(month_end):
        engine = make_engine(c.url)
        sweep(make_session_factory(engine), now=utcnow(), calendar=CAL)
        engine.dispose()
        settled(c)
    with travel_to(at("2026-12-05")):
        c.step(d["id"], "accept", "qinghe.hrss")  # late
        settled(c)
    with travel_to(at("2026-12-10")):
        c.step(b["id"], "reply", "qinghe.housing", **OPINION)  # late
        settled(c)
    return {"a": a, "b": b, "c": again, "d": d, "e": e, "e_lead": e_lead, "month_end": month_end}


def deadline(county: County, pid: str, step: str) -> datetime:
    rec = county.record(pid)
    [due] = [d["due_at"] for d in rec["deadlines"] if d["step"] == step]
    return datetime.fromisoformat(due)


def rung(due: datetime, when: datetime) -> str:
    reached = [s.name for s, t in stage_times(due, DEFAULT_LADDER, CAL) if t <= when]
    return reached[-1] if reached else "open"


def rate(measures: dict[str, Any], name: str) -> tuple[int, int]:
    return measures[name]["numerator"], measures[name]["denominator"]


def test_a_countys_month_is_counted_as_it_happened(county: County) -> None:
    did = november(county)
    bureau = county.staff("qinghe.petition_bureau", "supervisor")
    with travel_to(at("2026-12-15")):
        answer = county.statistics(bureau, **{"from": "2026-11-01", "to": "2026-11-30"})
    [total] = answer["groups"]
    m = total["measures"]
    assert total["key"] == {}
    assert m["received"] == 5
    assert (m["collective"], m["collective_people"]) == (1, 6)
    assert rate(m, "repeat_rate") == (1, 5)
    assert rate(m, "skip_level_rate") == (0, 5)
    # the repeat was declined at routing: four went to a unit, forwarded at once
    assert rate(m, "forwarded_on_time_rate")[0] == rate(m, "forwarded_on_time_rate")[1]
    # A, B, E (returned in time) and E's second unit decided in time; D a month late
    assert rate(m, "timely_acceptance_rate") == (4, 5)
    # due in November: A replied in time; B replied in December; E's still open
    assert rate(m, "on_time_reply_rate") == (1, 3)
    assert rate(m, "satisfaction_rate") == (1, 1)
    assert rate(m, "evaluation_rate") == (1, 1)
    # A was raised again before it was replied to: not resolved the first time
    assert rate(m, "first_time_resolution_rate") == (0, 1)
    assert rate(m, "review_rate") == (0, 1)
    assert m["re_examination_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    assert m["returned"] == 1
    assert (m["average_cycle_days"], m["median_cycle_days"]) == (2, 2)
    # at the month's end: D's acceptance, B's and E's replies, each at its rung
    end = did["month_end"]
    expected = {r: 0 for r in ("open", "reminded", "urged", "supervised", "accountability")}
    for pid, step in (
        (did["d"]["id"], "accept"),
        (did["b"]["id"], "handle"),
        (did["e"]["id"], "handle"),
    ):
        expected[rung(deadline(county, pid, step), end)] += 1
    assert m["overdue"] == expected
    assert sum(expected.values()) == 3
    assert set(answer["definitions"]) >= set(m)
    assert m["timely_acceptance_rate"]["value"] == 0.8

    # by unit, rolled up the tree: the county government counts its departments'
    with travel_to(at("2026-12-15")):
        by_unit = county.statistics(
            bureau, **{"from": "2026-11-01", "to": "2026-11-30", "group_by": "unit"}
        )
    units = {g["key"]["unit"]: g["measures"] for g in by_unit["groups"]}
    assert units["qinghe.hrss"]["received"] == 2  # A and D (E left it)
    assert units["qinghe.housing"]["received"] == 1
    assert units["qinghe.party_gov"]["received"] == 4
    assert units["unrouted"]["received"] == 1  # the declined repeat
    assert "shifan.party_gov" not in units  # above the caller's view
    # by month: the reply of December is December's
    with travel_to(at("2026-12-15")):
        monthly = county.statistics(
            bureau, **{"from": "2026-11-01", "to": "2026-12-15", "group_by": "month"}
        )
    months = {g["key"]["month"]: g["measures"] for g in monthly["groups"]}
    assert months["2026-11"]["received"] == 5 and months["2026-12"]["received"] == 0
    assert months["2026-12"]["average_cycle_days"] == 38  # B: 2 November → 10 December

    # the overdue steps of today are the worklist's overdue cases (one clock each here)
    with travel_to(at("2026-12-15")):
        today = county.statistics(bureau, **{"from": "2026-12-01", "to": "2026-12-15"})
        late = county.client.get(
            "/api/v1/petitions", params={"overdue": "true"}, headers=bureau
        ).json()
    assert sum(today["groups"][0]["measures"]["overdue"].values()) == len(late) == 1
    assert [p["id"] for p in late] == [did["e"]["id"]]

    # what a department sees is what it leads; another county sees nothing of it
    with travel_to(at("2026-12-15")):
        hrss = county.statistics(
            county.staff("qinghe.hrss", "supervisor"), **{"from": "2026-11-01", "to": "2026-11-30"}
        )
        other = county.statistics(
            county.staff("liulin.petition_bureau", "supervisor"),
            **{"from": "2026-11-01", "to": "2026-11-30"},
        )
    assert hrss["groups"][0]["measures"]["received"] == 2
    assert other["groups"][0]["measures"]["received"] == 0
    assert all(v == 0 for v in other["groups"][0]["measures"]["overdue"].values())

    # the read model rebuilt from the stored events gives the same figures
    with travel_to(at("2026-12-15")):
        before = [
            county.statistics(bureau, **{"from": "2026-11-01", "to": "2026-12-15", "group_by": g})
            for g in ("unit", "month", "category,channel")
        ]
        engine = make_engine(county.url)
        assert rebuild(make_session_factory(engine), DirectoryCache()) > 0
        engine.dispose()
        after = [
            county.statistics(bureau, **{"from": "2026-11-01", "to": "2026-12-15", "group_by": g})
            for g in ("unit", "month", "category,channel")
        ]
    # (the instant they stand at moves on; the figures do not)
    assert [a["groups"] for a in after] == [b["groups"] for b in before]


def test_the_same_figures_as_csv_with_a_bom_and_as_xlsx(county: County) -> None:
    pid = submit(county, petition())["id"]
    county.routed(pid)
    settled(county)
    bureau = county.staff("qinghe.petition_bureau", "supervisor")
    params = {"from": "2026-11-01", "to": "2026-11-30", "group_by": "unit"}
    r = county.client.get("/api/v1/statistics", params={**params, "format": "csv"}, headers=bureau)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["单位", "收到件数", "集体访件数"]
    assert "及时受理率" in rows[0] and "超期已督办" in rows[0]
    by_unit = {row[0]: row for row in rows[1:]}
    assert by_unit["qinghe.hrss"][1] == "1"
    x = county.client.get("/api/v1/statistics", params={**params, "format": "xlsx"}, headers=bureau)
    assert x.status_code == 200
    sheet = load_workbook(io.BytesIO(x.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == rows[0]
    assert {row[0]: row[1] for row in values[1:]}["qinghe.hrss"] == 1


def test_bad_questions_are_told_which_field(county: County) -> None:
    bureau = county.staff("qinghe.petition_bureau", "supervisor")
    for params, field in (
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"from": "2026-11-01", "to": "2026-11-30", "group_by": "unit,colour"}, "group_by"),
        ({"from": "2026-11-01", "to": "2026-11-30", "unit_id": "liulin.hrss"}, "unit_id"),
        ({"from": "2020-01-01", "to": "2026-11-30"}, "to"),
        ({"to": "2026-11-30"}, "from"),
    ):
        r = county.client.get("/api/v1/statistics", params=params, headers=bureau)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["errors"][0]["field"] == field
    handler = county.staff("qinghe.hrss", "handler")
    assert (
        county.client.get(
            "/api/v1/statistics", params={"from": "2026-11-01", "to": "2026-11-30"}, headers=handler
        ).status_code
        == 403
    )


def test_the_annual_report_puts_the_year_beside_the_last(county: County) -> None:
    november(county)
    bureau = county.staff("qinghe.petition_bureau", "supervisor")
    with travel_to(at("2027-01-10")):
        r = county.client.get("/api/v1/reports/annual", params={"year": 2026}, headers=bureau)
        assert r.status_code == 200, r.text
        report = r.json()
        table = county.client.get(
            "/api/v1/reports/annual", params={"year": 2026, "format": "csv"}, headers=bureau
        )
        book = county.client.get(
            "/api/v1/reports/annual", params={"year": 2026, "format": "xlsx"}, headers=bureau
        )
    this, last = report["totals"]["this_year"], report["totals"]["previous_year"]
    assert (this["received"], last["received"]) == (5, 0)
    assert last["timely_acceptance_rate"]["value"] is None
    categories = {r["category"]: r["measures"]["received"] for r in report["by_category"]}
    assert categories == {
        "labor.wage_arrears": 2,
        "labor.social_insurance": 2,
        "housing.property": 1,
    }
    assert {r["channel"]: r["measures"]["received"] for r in report["by_channel"]} == {
        "web": 4,
        "visit": 1,
    }
    # the county government is above every unit that handled one: first of the list
    top = report["units_most_petitioned"]
    assert top[0]["unit"] == "qinghe.party_gov" and top[0]["measures"]["received"] == 4
    # four assigned (the repeat declined), none referred down; the ladder's orders of
    # 30 November: a supervision order and a recommendation for each of three clocks
    assert report["handling"] == {
        "referred_down": 0,
        "assigned": 4,
        "supervision_orders": 3,
        "accountability_recommendations": 3,
    }
    lines = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["部分", "项目", "收到件数"]
    assert lines[1][:3] == ["全年", "2026", "5"] and lines[2][:3] == ["上年", "2025", "0"]
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert [c.value for c in next(sheet.iter_rows())] == lines[0]
