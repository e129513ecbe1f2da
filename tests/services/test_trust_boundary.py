"""The trust boundary, tried as an attacker would: every GET route the app serves
(read from its own OpenAPI document, so an endpoint added tomorrow is covered the day
it is added), called as every kind of principal that has no reason to see a report
or a petition of another county, answers nothing of it — not its id, title or
content, not the reporter's name, phone or ID number, masked or not — and no
webhook subscriber of theirs is sent any of it. The demo county's tree, with a
second county beside it in the same city."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from deadline_scheduler.sweep import sweep
from notify_gateway.models import Notice
from services.app import build_app
from shared.calendar import OfficialCalendar
from shared.db import make_engine, make_session_factory, transaction
from shared.directory import load_directory_file
from shared.security import ROLES, mask_id_number, mask_name, mask_phone
from shared.timeutil import to_china, utcnow
from tests.conftest import load_demo, make_api_key, make_token
from tests.helpers import petition, wait_for
from tests.services.conftest import settings_for

SECOND_COUNTY = Path(__file__).resolve().parent.parent / "data" / "second_county.json"
REPORTER = {
    "name": "欧阳娜娜",
    "phone": "13712340987",
    "id_number": "11010519491231002X",
    "address": "清河县青石镇红星村三组",
}
# The report names the accused only by position: intake places it at 红星村.
REPORT = petition(
    type="report",
    category="discipline.official",
    title="检举红星村干部侵占征地补偿款",
    content="红星村党支部书记李四把全组的征地补偿款挪作他用，已有两年未公开账目。",
    petitioners=[REPORTER],
    accused={"name": "李四", "position": "村党支部书记"},
)
ELSEWHERE_PERSON = {"name": "司马光明", "phone": "13598760123", "address": "柳林县柳镇柳村"}
ELSEWHERE = petition(
    title="柳村工地拖欠工钱",
    content="柳镇柳村一处工地拖欠十名工人两个月的工钱，包工头已联系不上。",
    category="labor.wage_arrears",
    division_code="990102100201",
    address="柳林县柳镇柳村",
    addressed_to="liulin.petition_bureau",
    petitioners=[ELSEWHERE_PERSON],
)
OTHER_PERSON = {"name": "王五", "phone": "13900009999", "address": "清河县青石镇石桥村"}


@dataclass
class Target:
    """A petition and what of it must never be shown to the principals listed."""

    id: str
    query_code: str
    secrets: list[str]
    lead: str = ""


@dataclass
class World:
    client: TestClient
    url: str
    report: Target
    elsewhere: Target
    other_query_code: str
    site_id: str
    qr_token: str
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    hooks: dict[str, int] = field(default_factory=dict)

    def staff(self, unit: str, role: str) -> dict[str, str]:
        key = f"{unit}:{role}"
        if key not in self.tokens:
            self.tokens[key] = {"Authorization": f"Bearer {make_token(self.url, unit, role)}"}
        return self.tokens[key]


def secrets_of(body: dict[str, Any], pid: str) -> list[str]:
    person = body["petitioners"][0]
    out = [pid, body["title"], body["content"], person["name"], mask_name(person["name"]) or ""]
    out += [person["phone"], mask_phone(person["phone"]) or ""]
    if person.get("id_number"):
        out += [person["id_number"], mask_id_number(person["id_number"]) or ""]
    return out


def submitted(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def subscribe(world: World, admin: dict[str, str], **owner: str) -> int:
    r = world.client.post(
        "/api/v1/webhook-subscriptions",
        json={
            **owner,
            "url": "http://127.0.0.1:9/events",  # nothing listens: the copies stay queued
            "event_types": [
                "cn.xinfang.petition.received",
                "cn.xinfang.petition.routed",
                "cn.xinfang.deadline.reminded",
                "cn.xinfang.deadline.supervised",
                "cn.xinfang.deadline.accountability",
            ],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    load_demo(db_url)
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as session:
        load_directory_file(session, SECOND_COUNTY)
    engine.dispose()
    app = build_app(settings_for(db_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        qinghe = {
            "Authorization": f"Bearer {make_token(db_url, 'qinghe.petition_bureau', 'admin')}"
        }
        liulin = {
            "Authorization": f"Bearer {make_token(db_url, 'liulin.petition_bureau', 'admin')}"
        }
        make_api_key(db_url, "清河网格化平台", reads="jurisdiction")
        make_api_key(db_url, "柳林12345", jurisdiction="990102000000", reads="jurisdiction")
        site = client.post(
            "/api/v1/qr-sites",
            json={
                "name": "红星村村委会",
                "kind": "village",
                "division_code": "990101100201",
                "unit_id": "qinghe.qingshi.hongxing",
            },
            headers=qinghe,
        ).json()
        world = World(
            client,
            db_url,
            report=Target("", "", []),
            elsewhere=Target("", "", []),
            other_query_code=submitted(client, petition(petitioners=[OTHER_PERSON]))["query_code"],
            site_id=site["id"],
            qr_token=site["token"],
        )
        for unit in ("qinghe.qingshi.hongxing", "qinghe.qingshi.gov", "qinghe.qingshi.shiqiao"):
            world.hooks[unit] = subscribe(world, qinghe, unit_id=unit)
        world.hooks["qinghe.hrss"] = subscribe(world, qinghe, unit_id="qinghe.hrss")
        world.hooks["qinghe.petition_bureau"] = subscribe(world, qinghe)
        world.hooks["清河网格化平台"] = subscribe(world, qinghe, system="清河网格化平台")
        world.hooks["qinghe.qingshi.discipline"] = subscribe(
            world, qinghe, unit_id="qinghe.qingshi.discipline"
        )
        world.hooks["liulin.petition_bureau"] = subscribe(world, liulin)
        world.hooks["柳林12345"] = subscribe(world, liulin, system="柳林12345")

        report = submitted(client, REPORT)
        world.report = Target(report["id"], report["query_code"], secrets_of(REPORT, report["id"]))
        there = submitted(client, ELSEWHERE)
        world.elsewhere = Target(
            there["id"], there["query_code"], secrets_of(ELSEWHERE, there["id"])
        )
        # both routed to the organs that handle them, and their ladders run to the end
        world.report.lead = routed_to(world, world.report, "qinghe.qingshi.discipline")
        world.elsewhere.lead = routed_to(world, world.elsewhere, "liulin.hrss")
        engine = make_engine(db_url)
        sweep(
            make_session_factory(engine),
            now=utcnow() + timedelta(days=120),
            calendar=OfficialCalendar(),
        )
        engine.dispose()
        for target in (world.report, world.elsewhere):
            wait_for(lambda t=target: urged(world, t), timeout=15)  # type: ignore[misc]
        yield world


def routed_to(world: World, target: Target, lead: str) -> str:
    seen = world.staff(lead, "handler")

    def probe() -> str | None:
        r = world.client.get(f"/api/v1/petitions/{target.id}", headers=seen)
        routing = r.json().get("routing") if r.status_code == 200 else None
        return routing["lead_unit"] if routing else None

    assert wait_for(probe) == lead
    return lead


def urged(world: World, target: Target) -> bool:
    r = world.client.get(
        f"/api/v1/petitions/{target.id}/timeline", headers=world.staff(target.lead, "handler")
    )
    return r.status_code == 200 and any(e["kind"] == "urging" for e in r.json())


def principals(world: World, units: list[str], systems: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"anonymous": {}}
    for unit in units:
        for role in ROLES:
            out[f"{unit}:{role}"] = world.staff(unit, role)
    for system in systems:
        out[f"system:{system}"] = {"X-Api-Key": make_api_key(world.url, system)}
    return out


def get_routes(world: World) -> list[tuple[str, list[dict[str, Any]]]]:
    doc = world.client.get("/openapi.json").json()
    return [
        (path, list(ops["get"].get("parameters") or []))
        for path, ops in doc["paths"].items()
        if "get" in ops
    ]


def fill(
    world: World, target: Target, path: str, parameters: list[dict[str, Any]]
) -> tuple[str, dict[str, str]]:
    """The route's path and query, aimed at the target wherever a parameter can be."""
    values = {
        "petition_id": target.id,
        "query_code": target.query_code,
        "position": "0",
        "ruleset_id": "1",
        "site_id": world.site_id,
        "token": world.qr_token,
        "phone": OTHER_PERSON["phone"],  # a petitioner of another matter, with this code
        "reason": "电话回访核实诉求",
        "unit_id": target.lead,
        "jurisdiction": "990101000000",
        # the statistics of the month up to now: the figures never name a petition
        "from": (to_china(utcnow()) - timedelta(days=30)).date().isoformat(),
        "to": to_china(utcnow()).date().isoformat(),
        "group_by": "unit,category,channel,type,division,day",
    }
    url = re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "x"), path)
    query = {
        p["name"]: values[p["name"]]
        for p in parameters
        if p["in"] == "query" and p["name"] in values
    }
    return url, query


NOBODY = Target("00000000-0000-4000-8000-000000000000", "AAAA-BBBB-CCCC", [])


def leaks(world: World, target: Target, who: dict[str, dict[str, str]]) -> list[str]:
    """What any of `who` is shown of `target` by any GET route. What the caller itself
    sent (the id in its own path, say) may be echoed; nothing else of the petition,
    and not even its existence: the answer is the one for a petition that is not."""
    found = []
    for path, parameters in get_routes(world):
        url, query = fill(world, target, path, parameters)
        sent = [target.id, target.query_code] if "{" in path else []
        for name, headers in who.items():
            r = world.client.get(url, params=query, headers=headers)
            assert r.status_code < 500, (name, url, r.status_code, r.text)
            text = r.content.decode("utf-8", "replace")
            for echoed in sent:
                text = text.replace(echoed, "")
            shown = [s for s in target.secrets if s and s in text]
            if shown:
                found.append(f"{name} GET {url} {query}: {shown}")
            if sent:
                other_url, other_query = fill(world, NOBODY, path, parameters)
                other = world.client.get(other_url, params=other_query, headers=headers)
                if other.status_code != r.status_code:
                    found.append(
                        f"{name} GET {path}: {r.status_code} for it, "
                        f"{other.status_code} for none (its existence shows)"
                    )
    return found


def webhook_copies(world: World, target: Target) -> dict[int, int]:
    engine = make_engine(world.url)
    with make_session_factory(engine)() as session:
        rows = session.scalars(
            select(Notice).where(Notice.petition_id == target.id, Notice.channel == "webhook")
        ).all()
    engine.dispose()
    counts: dict[int, int] = {}
    for n in rows:
        sub = int(n.recipient.split(":")[1])
        counts[sub] = counts.get(sub, 0) + 1
    return counts


REPORT_BARRED = ["qinghe.qingshi.hongxing", "qinghe.qingshi.gov"]
REPORT_UNRELATED = ["qinghe.qingshi.shiqiao", "qinghe.hrss", "liulin.petition_bureau"]


def test_a_report_reaches_no_one_around_the_accused_nor_anyone_without_a_part(
    world: World,
) -> None:
    who = principals(world, REPORT_BARRED + REPORT_UNRELATED, ["清河网格化平台", "柳林12345"])
    who["petitioner of another matter"] = {}
    assert not leaks(world, world.report, who)
    # sent to the discipline organ's subscription only, of all those that asked
    copies = webhook_copies(world, world.report)
    assert set(copies) == {world.hooks["qinghe.qingshi.discipline"]}, copies
    # and it is no blind spot: those handling it see it
    for unit in ("qinghe.qingshi.discipline", "qinghe.discipline", "qinghe.petition_bureau"):
        r = world.client.get(
            f"/api/v1/petitions/{world.report.id}", headers=world.staff(unit, "supervisor")
        )
        assert r.status_code == 200, (unit, r.text)
        assert r.json()["title"] == REPORT["title"]


def test_a_petition_of_another_county_is_invisible_to_this_one(world: World) -> None:
    units = ["qinghe.petition_bureau", "qinghe.party_gov", "qinghe.hrss", "qinghe.qingshi.gov"]
    who = principals(world, units, ["清河网格化平台"])
    assert not leaks(world, world.elsewhere, who)
    copies = webhook_copies(world, world.elsewhere)
    assert set(copies) == {world.hooks["liulin.petition_bureau"], world.hooks["柳林12345"]}
    # its own county's bureau and the city above both counties see it
    for unit in ("liulin.petition_bureau", "shifan.party_gov"):
        r = world.client.get(
            f"/api/v1/petitions/{world.elsewhere.id}", headers=world.staff(unit, "leader")
        )
        assert r.status_code == 200, (unit, r.text)
