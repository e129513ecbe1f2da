"""The dispatcher end to end: the whole app in one process (embedded bus) on SQLite and
PostgreSQL, delivering through real servers on 127.0.0.1 (a fake Aliyun SMS endpoint, a
fake WeChat API, an aiosmtpd relay, a webhook subscriber that checks signatures).

Most tests drive the dispatcher by hand (`run_once(channel, now)`) so that time moves
without sleeping; the threaded tests run it as the app does, from the lifespan.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from notify_gateway.channels.registry import enabled_channels
from notify_gateway.dispatcher import Dispatcher
from notify_gateway.models import Notice
from notify_gateway.service import record_notice
from services.app import build_app
from shared.db import transaction
from shared.events import (
    NOTICE_FAILED,
    PETITION_RECEIVED,
    PETITION_ROUTED,
    Envelope,
    OutboxEvent,
)
from shared.timeutil import to_china, utcnow
from tests.conftest import load_demo, make_api_key, make_token
from tests.helpers import petition_by, wait_for
from tests.notify_gateway.fake_aliyun import FakeAliyunSms
from tests.notify_gateway.fake_subscriber import FakeSubscriber
from tests.notify_gateway.fake_wechat import FakeWeChat
from tests.notify_gateway.loopback import running
from tests.notify_gateway.smtp_server import LoopbackController, RecordingHandler
from tests.services.conftest import settings_for

KEY_ID = "LTAI5tDispatchTestKey"
KEY_SECRET = "dispatch-secret/+*~"
SIGN_NAME = "清河县信访局"
APPID = "wx0123456789abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"
RECEIPT_TEMPLATE = "tmpl-receipt-0001"
ROUTED_TEMPLATE = "tmpl-routed-0002"
OPENID = "okPfi5SgajfC3NV014n5vFoNoHqc"
KINDS = (
    "receipt",
    "routed",
    "new_case",
    "collective_alert",
    "urging",
    "step_accepted",
    "step_declined",
    "step_extended",
    "step_replied",
    "step_reviewed",
    "step_re_examined",
)
SMS_TEMPLATES = {kind: f"SMS_4653{i:05d}" for i, kind in enumerate(KINDS)}
HRSS_EMAIL = "qinghe-hrss@gov.example.cn"  # shared/demo/qinghe_county.json
LEADER_PHONES = {
    "unit:qinghe.party_gov:leader": "13900000006",
    "unit:qinghe.petition_bureau:leader": "13900000007",
}


@dataclass
class Stack:
    """The app, its dispatcher and the servers it delivers to."""

    client: TestClient
    app: FastAPI
    url: str
    dispatcher: Dispatcher
    sms: FakeAliyunSms
    wechat: FakeWeChat
    smtp: RecordingHandler
    threaded: bool
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def auth(self, role: str, unit: str = "qinghe.petition_bureau") -> dict[str, str]:
        key = f"{unit}:{role}"
        if key not in self.headers:
            self.headers[key] = {"Authorization": f"Bearer {make_token(self.url, unit, role)}"}
        return self.headers[key]

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.post("/api/v1/petitions", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def visit(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.post("/api/v1/visits", json=body, headers=self.auth("registrar"))
        assert r.status_code == 201, r.text
        return dict(r.json())

    def notices(self, **where: Any) -> list[Notice]:
        """Notices straight from the database, e.g. notices(petition_id=…, channel="sms")."""
        with self.app.state.factory() as session:
            query = select(Notice).order_by(Notice.id)
            for key, value in where.items():
                query = query.where(getattr(Notice, key) == value)
            return list(session.scalars(query))

    def wait_notices(self, count: int, timeout: float = 10.0, **where: Any) -> list[Notice]:
        """Once the bus has carried the events to the gateway and it recorded them."""
        return wait_for(lambda: (n := self.notices(**where)) and len(n) >= count and n, timeout)

    def run(self, channel: str, now: datetime | None = None) -> int:
        """One dispatcher round on `channel`, as a worker thread would run it."""
        assert not self.threaded, "the worker threads dispatch in this test"
        return self.dispatcher.run_once(channel, now)

    def drain(self, channel: str, now: datetime | None = None) -> int:
        tried = 0
        while n := self.run(channel, now):
            tried += n
        return tried

    def api_notices(self, **params: Any) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/notices", params=params, headers=self.auth("supervisor"))
        assert r.status_code == 200, r.text
        return list(r.json())


def notify_env(
    monkeypatch: pytest.MonkeyPatch,
    sms: FakeAliyunSms,
    wechat: FakeWeChat,
    smtp_port: int,
    overrides: dict[str, str],
) -> None:
    env = {
        "NOTIFY_ALIYUN_ACCESS_KEY_ID": KEY_ID,
        "NOTIFY_ALIYUN_ACCESS_KEY_SECRET": KEY_SECRET,
        "NOTIFY_ALIYUN_SIGN_NAME": SIGN_NAME,
        "NOTIFY_ALIYUN_ENDPOINT": sms.base_url + "/",
        "NOTIFY_ALIYUN_TEMPLATES": json.dumps(SMS_TEMPLATES),
        "NOTIFY_SMTP_HOST": "127.0.0.1",
        "NOTIFY_SMTP_PORT": str(smtp_port),
        "NOTIFY_SMTP_SECURITY": "plain",
        "NOTIFY_SMTP_SENDER": "清河县信访局 <xinfang@qinghe.gov.cn>",
        "NOTIFY_WECHAT_APPID": APPID,
        "NOTIFY_WECHAT_SECRET": APP_SECRET,
        "NOTIFY_WECHAT_BASE_URL": wechat.base_url,
        "NOTIFY_WECHAT_TEMPLATES": json.dumps(
            {
                "receipt": {
                    "template_id": RECEIPT_TEMPLATE,
                    "fields": {"thing1": "subject", "thing2": "body"},
                    "page": "pages/petition/detail",
                },
                "routed": {
                    "template_id": ROUTED_TEMPLATE,
                    "fields": {"thing1": "subject", "thing2": "body"},
                },
            }
        ),
        "NOTIFY_SEND_TIMEOUT_SECONDS": "2",
        # No quiet hours (an empty window) unless a test is about them: these tests
        # must not depend on the hour they happen to run at.
        "NOTIFY_QUIET_START_HOUR": "0",
        "NOTIFY_QUIET_END_HOUR": "0",
        **overrides,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


StackFactory = Callable[..., Stack]


@pytest.fixture
def dispatch_db(db_url: str) -> str:
    """A fresh database with the demo county, on SQLite and on PostgreSQL."""
    load_demo(db_url)
    return db_url


@pytest.fixture
def stack(dispatch_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackFactory]:
    """`stack(threaded=False, **NOTIFY_env)`: the app built with the notify channels
    pointing at fresh local servers. Unthreaded, the lifespan does not start the
    dispatcher and the test drives it; threaded, it runs as in production."""
    db_url = dispatch_db
    with ExitStack() as cleanup:

        def make(threaded: bool = False, **overrides: str) -> Stack:
            sms = cleanup.enter_context(running(FakeAliyunSms({KEY_ID: KEY_SECRET})))
            wechat = cleanup.enter_context(
                running(FakeWeChat(APPID, APP_SECRET, {RECEIPT_TEMPLATE, ROUTED_TEMPLATE}))
            )
            handler = RecordingHandler()
            smtp = LoopbackController(handler, hostname="127.0.0.1", port=0)
            smtp.start()
            cleanup.callback(smtp.stop)
            notify_env(monkeypatch, sms, wechat, smtp.port, overrides)
            app = build_app(settings_for(db_url))
            dispatcher = app.state.dispatcher
            if not threaded:
                # The lifespan starts whatever dispatcher it finds: leave it none.
                del app.state.dispatcher
                cleanup.callback(dispatcher.stop)
            client = cleanup.enter_context(TestClient(app, raise_server_exceptions=False))
            assert isinstance(sms, FakeAliyunSms) and isinstance(wechat, FakeWeChat)
            return Stack(client, app, db_url, dispatcher, sms, wechat, handler, threaded)

        yield make


def sms_to(stack: Stack, phone: str) -> list[dict[str, Any]]:
    return [m.template_param for m in stack.sms.received if m.phone == phone]


def next_china(hour: int) -> datetime:
    """The next hour:00 in Shanghai after the real clock (the notices are due by then)."""
    local = to_china(utcnow())
    moment = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment if moment > local else moment + timedelta(days=1)


def collective_visit(n: int, **changes: Any) -> dict[str, Any]:
    """A collective visit of 12 with two representatives, by the n-th petitioner."""
    return petition_by(
        n,
        channel="visit",
        people_count=12,
        representatives=[
            {"name": "代表甲", "phone": f"1370000{n:04d}"},
            {"name": "代表乙", "phone": f"1360000{n:04d}"},
        ],
        **changes,
    )


def subscribe(s: Stack, subscriber: FakeSubscriber, types: list[str]) -> dict[str, Any]:
    # a registered system that reads every petition of the county (reports excepted)
    make_api_key(s.url, "hotline-12345", reads="jurisdiction")
    body = {
        "system": "hotline-12345",
        "url": subscriber.base_url + "/hooks/xinfang",
        "event_types": types,
    }
    assert (
        s.client.post(
            "/api/v1/webhook-subscriptions", json=body, headers=s.auth("registrar")
        ).status_code
        == 403
    )
    r = s.client.post("/api/v1/webhook-subscriptions", json=body, headers=s.auth("admin"))
    assert r.status_code == 201, r.text
    created = dict(r.json())
    assert created["secret"].startswith("whsec_") and created["active"] is True
    listed = s.client.get("/api/v1/webhook-subscriptions", headers=s.auth("admin")).json()
    assert [x["id"] for x in listed] == [created["id"]]
    assert "secret" not in listed[0]  # returned once, at creation only
    assert created["secret"] not in json.dumps(listed)
    subscriber.secret = created["secret"]
    return created


def outbox_envelope(s: Stack, petition_id: str, event_type: str) -> Envelope:
    with s.app.state.factory() as session:
        row = session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.subject == petition_id, OutboxEvent.type == event_type
            )
        ).one()
        return Envelope.from_json(row.envelope)


# --- 1. webhooks: exactly once, signed -------------------------------------------------------


def test_a_webhook_subscriber_gets_each_event_once_and_signed_and_a_redelivery_adds_nothing(
    stack: StackFactory,
) -> None:
    s = stack()
    with running(FakeSubscriber(secret="not-known-yet")) as subscriber:
        assert isinstance(subscriber, FakeSubscriber)
        created = subscribe(s, subscriber, [PETITION_RECEIVED, PETITION_ROUTED])
        receipt = s.submit(petition_by(102))
        pid = receipt["id"]
        hooks = s.wait_notices(2, petition_id=pid, channel="webhook")
        assert {n.subject for n in hooks} == {PETITION_RECEIVED, PETITION_ROUTED}
        assert {n.recipient for n in hooks} == {f"webhook:{created['id']}"}

        assert s.drain("webhook") == 2
        assert subscriber.refused == 0  # every signature verified with the secret given once
        assert subscriber.duplicates == 0
        assert len(subscriber.requests) == 2
        assert set(subscriber.events) == {n.event_id for n in hooks}
        for n in s.notices(petition_id=pid, channel="webhook"):
            assert (n.state, n.attempts, n.last_error) == ("delivered", 1, None)
            assert n.delivered_at is not None
        for headers in subscriber.headers_seen:
            assert headers["x-xinfang-signature"].startswith("sha256=")
        for event_id, payload in subscriber.events.items():
            # the event itself, as a CloudEvent, not a string inside a string
            event = payload["data"]
            assert payload["event_type"] == event["type"]
            assert event["id"] == event_id
            assert event["data"]["petition_id"] == pid
            assert event["data"]["query_code"] == receipt["query_code"]
            # what never leaves for another system, even sealed
            assert "sealed_phones" not in event["data"] and "phone_hashes" not in event["data"]
        assert "13900000102" not in json.dumps(subscriber.events, ensure_ascii=False)

        # Everything else goes too, then the same events are handled again.
        for channel in ("sms", "email"):
            s.drain(channel)
        before = [(n.id, n.state) for n in s.notices(petition_id=pid)]
        sms_before, mail_before = len(s.sms.received), len(s.smtp.received)
        envelopes = [outbox_envelope(s, pid, t) for t in (PETITION_RECEIVED, PETITION_ROUTED)]

        # (a) the relay publishes them again (as after a crash before it marked them)
        with transaction(s.app.state.factory) as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.event_id.in_([e.id for e in envelopes]))
                .values(published_at=None, available_at=utcnow())
            )

        def republished() -> bool:
            with s.app.state.factory() as session:
                rows = session.scalars(
                    select(OutboxEvent.published_at).where(
                        OutboxEvent.event_id.in_([e.id for e in envelopes])
                    )
                ).all()
                return all(rows)

        wait_for(republished)
        # (b) the gateway's handlers run on them again, past the inbox that guards them
        consumers = {sub.consumer: sub.handler for sub in s.app.state.runtime.bus.subscriptions}
        with transaction(s.app.state.factory) as session:
            for envelope in envelopes:
                consumers["notify.webhooks"](session, envelope)
            consumers["notify.on_petition_received"](session, envelopes[0])
            consumers["notify.on_petition_routed"](session, envelopes[1])

        assert [(n.id, n.state) for n in s.notices(petition_id=pid)] == before
        for channel in ("webhook", "sms", "email", "wechat"):
            assert s.drain(channel) == 0
        assert len(subscriber.requests) == 2 and subscriber.duplicates == 0
        assert (len(s.sms.received), len(s.smtp.received)) == (sms_before, mail_before)

        # A cancelled subscription is offered nothing more.
        r = s.client.delete(
            f"/api/v1/webhook-subscriptions/{created['id']}", headers=s.auth("admin")
        )
        assert r.status_code == 200 and r.json()["active"] is False
        later = s.submit(petition_by(103))["id"]
        s.wait_notices(2, petition_id=later, channel="sms")
        assert s.notices(petition_id=later, channel="webhook") == []


def test_a_webhook_says_which_event_type_it_carries(stack: StackFactory) -> None:
    s = stack()
    with running(FakeSubscriber(secret="not-known-yet")) as subscriber:
        assert isinstance(subscriber, FakeSubscriber)
        subscribe(s, subscriber, [PETITION_RECEIVED])
        pid = s.submit(petition_by(104))["id"]
        s.wait_notices(1, petition_id=pid, channel="webhook")
        assert s.drain("webhook") == 1
        [headers] = subscriber.headers_seen
        [payload] = subscriber.events.values()
        assert headers["x-xinfang-event-type"] == PETITION_RECEIVED
        assert payload["event_type"] == PETITION_RECEIVED


# --- 2. the SMS provider down, then up -------------------------------------------------------


def test_sms_sent_while_the_provider_is_down_are_retried_later_and_delivered_once(
    stack: StackFactory,
) -> None:
    s = stack(NOTIFY_RETRY_BASE_SECONDS="60", NOTIFY_MAX_ATTEMPTS="5")
    s.sms.mode = "down"
    people = {110 + i: s.submit(petition_by(110 + i)) for i in range(3)}
    for receipt in people.values():
        s.wait_notices(2, petition_id=receipt["id"], channel="sms")

    started = utcnow()
    assert s.run("sms") == 6
    assert len(s.sms.requests) == 6 and s.sms.received == []
    for receipt in people.values():
        shown = [n for n in s.api_notices(petition_id=receipt["id"]) if n["channel"] == "sms"]
        assert len(shown) == 2
        for n in shown:
            assert (n["state"], n["attempts"]) == ("failed", 1)
            assert "503" in n["last_error"]
            due = datetime.fromisoformat(n["next_attempt_at"])
            assert n["next_attempt_at"].endswith("+08:00")
            # base 60 s, ±20 % jitter
            assert started + timedelta(seconds=47) < due < utcnow() + timedelta(seconds=73)
    assert s.run("sms") == 0  # nothing is due yet
    assert s.run("sms", utcnow() + timedelta(seconds=45)) == 0

    # Still down a minute later: the second wait is twice the first.
    assert s.run("sms", utcnow() + timedelta(minutes=2)) == 6
    second = utcnow()
    for n in s.notices(channel="sms"):
        assert (n.state, n.attempts) == ("failed", 2)
        assert n.next_attempt_at is not None
        wait = (n.next_attempt_at - second).total_seconds()
        assert 95 < wait < 145
    assert len(s.sms.requests) == 12 and s.sms.received == []

    s.sms.mode = "ok"
    assert s.run("sms", utcnow() + timedelta(minutes=10)) == 6
    assert s.drain("sms", utcnow() + timedelta(days=1)) == 0
    for n in s.notices(channel="sms"):
        assert (n.state, n.attempts, n.last_error) == ("sent", 3, None)
        assert n.provider_id and n.sent_at and n.next_attempt_at is None
    assert len(s.sms.received) == 6
    for n, receipt in people.items():
        texts = sms_to(s, f"1390000{n:04d}")
        assert sorted(t["subject"] for t in texts) == [
            "您的信访事项已登记",
            "您的信访事项已转送办理",
        ]
        assert all(receipt["query_code"] in t["body"] for t in texts)
    assert len({(m.phone, m.template_code, m.template_param["body"]) for m in s.sms.received}) == 6


# --- 3. dead after the last attempt, re-driven by staff -------------------------------------


def test_a_notice_dead_after_its_last_attempt_is_listed_on_the_timeline_and_redriven(
    stack: StackFactory,
) -> None:
    s = stack(NOTIFY_MAX_ATTEMPTS="3", NOTIFY_RETRY_BASE_SECONDS="1")
    s.sms.mode = "down"
    receipt = s.submit(petition_by(120))
    pid = receipt["id"]
    sms = s.wait_notices(2, petition_id=pid, channel="sms")
    for hours in range(3):
        assert s.run("sms", utcnow() + timedelta(hours=hours)) == 2
    assert s.run("sms", utcnow() + timedelta(days=2)) == 0  # dead notices are not tried

    dead = s.api_notices(state="dead")
    assert sorted(n["id"] for n in dead) == sorted(n.id for n in sms)
    for n in dead:
        assert n["attempts"] == 3 and n["next_attempt_at"] is None and "503" in n["last_error"]
    assert s.api_notices(state="failed") == []
    assert len(s.sms.requests) == 6 and s.sms.received == []

    def failures() -> list[dict[str, Any]] | None:
        r = s.client.get(f"/api/v1/petitions/{pid}/timeline", headers=s.auth("registrar"))
        assert r.status_code == 200, r.text
        found = [t for t in r.json() if t["event_type"] == NOTICE_FAILED]
        return found if len(found) == 2 else None

    for entry in wait_for(failures):
        assert entry["kind"] == "notice"
        assert entry["detail"]["state"] == "dead" and entry["detail"]["channel"] == "sms"
        assert entry["detail"]["notice_id"] in {n.id for n in sms}
        assert "3 次尝试未能送达" in entry["summary"] and "待人工重发" in entry["summary"]

    target = next(n for n in sms if n.kind == "receipt")
    url = f"/api/v1/notices/{target.id}/redrive"
    assert s.client.post(url, headers=s.auth("registrar")).status_code == 403
    assert (
        s.client.post("/api/v1/notices/99999/redrive", headers=s.auth("supervisor")).status_code
        == 404
    )
    inbox = s.notices(petition_id=pid, channel="inbox")[0]
    r = s.client.post(f"/api/v1/notices/{inbox.id}/redrive", headers=s.auth("supervisor"))
    assert r.status_code == 409  # delivered: nothing to re-drive

    s.sms.mode = "ok"
    r = s.client.post(url, headers=s.auth("supervisor"))
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["attempts"]) == ("pending", 0)
    assert s.run("sms") == 1
    assert s.drain("sms", utcnow() + timedelta(days=1)) == 0
    [again] = s.notices(id=target.id)
    assert (again.state, again.attempts) == ("sent", 1)
    [text] = sms_to(s, "13900000120")
    assert text["subject"] == "您的信访事项已登记" and receipt["query_code"] in text["body"]
    assert [n["id"] for n in s.api_notices(state="dead")] == [
        n.id for n in sms if n.id != target.id
    ]
    assert s.client.post(url, headers=s.auth("supervisor")).status_code == 409


# --- 4. quiet hours --------------------------------------------------------------------------


def test_at_night_a_petitioners_sms_waits_for_morning_but_an_urgent_one_goes(
    stack: StackFactory,
) -> None:
    s = stack(NOTIFY_QUIET_START_HOUR="22", NOTIFY_QUIET_END_HOUR="8")
    night = next_china(23)
    morning = (night + timedelta(days=1)).replace(hour=8)
    receipt = s.visit(collective_visit(130))
    pid, code = receipt["id"], receipt["query_code"]
    # the petitioner's receipt and routing notice, and the alerts to the two leaders
    s.wait_notices(4, petition_id=pid, channel="sms")
    # and one urgent notice to the petitioner
    with transaction(s.app.state.factory) as session:
        [_, urgent] = record_notice(
            session,
            event=Envelope(type="test.urgent", source="/xinfang/test", subject=pid, data={}),
            petition_id=pid,
            kind="receipt",
            recipient=f"petitioner:{code}",
            context={"petitioner": "王五", "received_at": "", "title": "紧急", "query_code": code},
            directory=s.app.state.directory.get(session),
            enabled=enabled_channels(s.dispatcher.channels),
            urgent=True,
        )
        urgent_id = urgent.id
    petitioner = "13900000130"

    assert s.run("sms", night) == 3  # two leaders and the urgent one
    assert sorted(m.phone for m in s.sms.received) == sorted([*LEADER_PHONES.values(), petitioner])
    [text] = sms_to(s, petitioner)
    assert "紧急" in text["body"]
    held = [n for n in s.notices(petition_id=pid, channel="sms") if n.state == "pending"]
    assert sorted(n.kind for n in held) == ["receipt", "routed"]
    for n in held:
        assert n.id != urgent_id and not n.urgent
        assert n.attempts == 0 and n.last_error is None  # held, not tried
        assert n.next_attempt_at == morning

    assert s.run("sms", night + timedelta(hours=3)) == 0
    assert s.run("sms", morning - timedelta(seconds=1)) == 0
    assert s.run("sms", morning) == 2
    assert sorted(t["subject"] for t in sms_to(s, petitioner)) == [
        "您的信访事项已登记",
        "您的信访事项已登记",
        "您的信访事项已转送办理",
    ]
    assert {n.state for n in s.notices(petition_id=pid, channel="sms")} == {"sent"}


# --- 5. the per-recipient SMS limit -------------------------------------------------------------


def two_petitions_from_one_phone(s: Any, n: int) -> list[str]:
    """Two different matters from one petitioner: two SMS each (receipt, routing)."""
    pids = []
    for title, content in [
        ("工地拖欠农民工工资", "红星村安置房工地拖欠十二名工人三个月工资。"),
        ("村道路灯长期不亮", "青石镇红星村村道路灯坏了半年，夜间出行不便。"),
    ]:
        pids.append(s.submit(petition_by(n, title=title, content=content))["id"])
    for pid in pids:
        s.wait_notices(2, petition_id=pid, channel="sms")
    return pids


def test_sms_beyond_the_hourly_limit_to_one_phone_wait_their_turn(stack: StackFactory) -> None:
    s = stack(NOTIFY_SMS_PER_RECIPIENT_PER_HOUR="2")
    phone = f"1390000{170:04d}"
    first, second = two_petitions_from_one_phone(s, 170)
    s.drain("sms")
    assert len(sms_to(s, phone)) == 2  # all four were due at once: two went
    sent = [n for pid in (first, second) for n in s.notices(petition_id=pid, channel="sms")]
    gone = [n for n in sent if n.state == "sent"]
    held = [n for n in sent if n.state == "pending"]
    assert len(gone) == len(held) == 2
    for n in held:
        assert n.attempts == 0  # waiting is not an attempt
        # an hour after the first went (counted from the round that claimed it)
        hour_after = min(g.sent_at for g in gone if g.sent_at) + timedelta(hours=1)
        assert n.next_attempt_at is not None
        assert timedelta(0) <= n.next_attempt_at - hour_after < timedelta(seconds=10)
    assert s.run("sms", utcnow() + timedelta(minutes=55)) == 0
    turn = max(n.next_attempt_at for n in held if n.next_attempt_at is not None)
    assert s.run("sms", turn) == 2
    assert len(sms_to(s, phone)) == 4


def test_two_dispatchers_claiming_one_phones_sms_at_once_keep_to_the_limit(
    stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two replicas, each claiming one notice per round, both at the same instant:
    # each claim lingers after counting, as a slow database would make it
    s = stack(NOTIFY_SMS_PER_RECIPIENT_PER_HOUR="1", NOTIFY_BATCH="1")
    pid = s.submit(petition_by(157))["id"]
    s.wait_notices(2, petition_id=pid, channel="sms")
    counted = Dispatcher._held_until

    def slowly(self: Dispatcher, *args: Any) -> datetime | None:
        wait = counted(self, *args)
        time.sleep(0.5)
        return wait

    monkeypatch.setattr(Dispatcher, "_held_until", slowly)
    start = threading.Barrier(2)

    def replica() -> None:
        start.wait()
        s.run("sms")

    replicas = [threading.Thread(target=replica) for _ in range(2)]
    for r in replicas:
        r.start()
    for r in replicas:
        r.join(30)
    assert len(sms_to(s, "13900000157")) == 1
    states = sorted(n.state for n in s.notices(petition_id=pid, channel="sms"))
    assert states == ["pending", "sent"]


def test_urgent_alerts_are_not_held_by_the_hourly_limit(stack: StackFactory) -> None:
    s = stack(NOTIFY_SMS_PER_RECIPIENT_PER_HOUR="2")
    for i in range(3):
        pid = s.visit(collective_visit(150 + i, title=f"集体讨薪第{i + 1}批"))["id"]
        s.wait_notices(2, petition_id=pid, channel="sms", kind="collective_alert")
    s.drain("sms")
    for phone in LEADER_PHONES.values():
        assert len(sms_to(s, phone)) == 3


def test_a_collective_report_against_the_petition_bureau_alerts_none_around_it(
    stack: StackFactory,
) -> None:
    # the leaders on duty are the county's government and the bureau's head; this crowd
    # accuses the bureau's staff, so both are at the accused's place and hear nothing
    # of it (arts. 30, 46): the discipline organ that handles it is told
    s = stack()
    body = collective_visit(
        156,
        type="report",
        title="集体反映信访局干部刁难群众",
        content="县信访局接访科科长赵六多次刁难前来反映问题的群众。",
        category="discipline.official",
        accused={"name": "赵六", "position": "接访科科长", "unit_id": "qinghe.petition_bureau"},
    )
    pid = s.visit(body)["id"]
    told = s.wait_notices(1, petition_id=pid, kind="new_case")
    assert {n.recipient for n in told} == {"unit:qinghe.discipline"}
    around = ("qinghe.petition_bureau", "qinghe.party_gov")
    assert not [n for n in s.notices(petition_id=pid) if any(u in n.recipient for u in around)]
    s.drain("sms")
    assert sms_to(s, LEADER_PHONES["unit:qinghe.petition_bureau:leader"]) == []
    assert sms_to(s, LEADER_PHONES["unit:qinghe.party_gov:leader"]) == []


def test_the_hourly_limit_counts_a_petitioners_phone_across_petitions(
    stack: StackFactory,
) -> None:
    s = stack(NOTIFY_SMS_PER_RECIPIENT_PER_HOUR="2")
    for title, content in [
        ("工地拖欠农民工工资", "红星村安置房工地拖欠十二名工人三个月工资。"),
        ("村道路灯长期不亮", "青石镇红星村村道路灯坏了半年，夜间出行不便。"),
    ]:
        pid = s.submit(petition_by(160, title=title, content=content))["id"]
        s.wait_notices(2, petition_id=pid, channel="sms")
        s.drain("sms")
    assert len(sms_to(s, "13900000160")) == 2


# --- 6. a hanging provider holds up no other channel ------------------------------------------


@pytest.mark.parametrize("mode", ["slow", "trickle"])
def test_a_hanging_sms_provider_does_not_hold_up_webhooks_or_email(
    stack: StackFactory, mode: str
) -> None:
    s = stack(
        threaded=True,
        NOTIFY_SEND_TIMEOUT_SECONDS="10",
        NOTIFY_RETRY_BASE_SECONDS="0.2",
        NOTIFY_POLL_SECONDS="0.05",
    )
    with running(FakeSubscriber(secret="not-known-yet")) as subscriber:
        assert isinstance(subscriber, FakeSubscriber)
        subscribe(s, subscriber, [PETITION_RECEIVED, PETITION_ROUTED])
        s.sms.mode = mode
        started = time.monotonic()
        pid = s.submit(petition_by(170))["id"]

        def others_done() -> bool:
            ns = s.notices(petition_id=pid)
            hooks = [n for n in ns if n.channel == "webhook"]
            mails = [n for n in ns if n.channel == "email"]
            return (
                len(hooks) == 2
                and all(n.state == "delivered" for n in hooks)
                and len(mails) == 1
                and mails[0].state == "sent"
            )

        wait_for(others_done, interval=0.02)
        elapsed = time.monotonic() - started
        # Done while the first SMS send is (or is about to be) hanging: none has even
        # failed yet. The SMS thread may reach the provider after the others are done.
        wait_for(lambda: bool(s.sms.requests), timeout=5)
        sms = s.notices(petition_id=pid, channel="sms")
        assert [(n.state, n.attempts) for n in sms] == [("pending", 0)] * 2
        assert elapsed < 4, f"webhooks and e-mail took {elapsed:.2f}s"
        assert len(subscriber.events) == 2 and len(s.smtp.received) == 1

        s.sms.mode = "ok"
        s.sms.release.set()

        def sms_sent() -> bool:
            ns = s.notices(petition_id=pid, channel="sms")
            return len(ns) == 2 and all(n.state == "sent" for n in ns)

        wait_for(sms_sent, timeout=15)
        assert sorted(t["subject"] for t in sms_to(s, "13900000170")) == [
            "您的信访事项已登记",
            "您的信访事项已转送办理",
        ]


# --- 7. e-mail ---------------------------------------------------------------------------------


def test_the_lead_units_new_case_notice_arrives_by_email_with_its_chinese_subject(
    stack: StackFactory,
) -> None:
    s = stack()
    receipt = s.submit(petition_by(180))
    pid = receipt["id"]
    [email] = s.wait_notices(1, petition_id=pid, channel="email")
    assert (email.kind, email.recipient, email.address) == (
        "new_case",
        "unit:qinghe.hrss",
        HRSS_EMAIL,
    )
    assert s.run("email") == 1
    assert s.drain("email", utcnow() + timedelta(days=1)) == 0
    [mail] = s.smtp.received
    assert mail.rcpt_tos == [HRSS_EMAIL] and mail.mail_from == "xinfang@qinghe.gov.cn"
    message = mail.message
    assert message["Subject"] == "新交办信访事项：工地拖欠农民工工资"
    assert message["To"] == HRSS_EMAIL
    assert message["From"].addresses[0].display_name == "清河县信访局"
    text = message.get_content()
    assert "清河县人力资源和社会保障局" in text and receipt["query_code"] in text
    assert message["X-Xinfang-Event-Id"] == email.event_id
    [sent] = s.notices(id=email.id)
    assert (sent.state, sent.attempts) == ("sent", 1)
    assert sent.provider_id == message["Message-ID"]


# --- 8. WeChat ---------------------------------------------------------------------------------


def test_a_mini_program_petition_gets_its_receipt_as_a_subscribe_message(
    stack: StackFactory,
) -> None:
    s = stack()
    receipt = s.submit(petition_by(190, channel="miniprogram", openid=OPENID))
    web = s.submit(petition_by(191))
    wx = s.wait_notices(2, petition_id=receipt["id"], channel="wechat")
    assert {n.kind for n in wx} == {"receipt", "routed"} and {n.address for n in wx} == {OPENID}
    s.wait_notices(2, petition_id=web["id"], channel="sms")
    assert s.notices(petition_id=web["id"], channel="wechat") == []  # no openid, no WeChat

    assert s.drain("wechat") == 2
    [message] = [m for m in s.wechat.received if m.template_id == RECEIPT_TEMPLATE]
    assert message.touser == OPENID
    assert message.data["thing1"] == "您的信访事项已登记"
    assert len(message.data["thing2"]) <= 20
    assert message.page == "pages/petition/detail"
    assert len(s.wechat.received) == 2 and s.wechat.errcodes == [0, 0]
    assert {n.state for n in s.notices(petition_id=receipt["id"], channel="wechat")} == {"sent"}


# --- 9. a collective visit alerts the leaders on duty at once ---------------------------------


def test_a_collective_visit_alerts_the_leaders_on_duty_within_five_seconds(
    stack: StackFactory,
) -> None:
    s = stack(threaded=True)
    started = time.monotonic()
    receipt = s.visit(collective_visit(200))
    pid = receipt["id"]

    def alerted() -> list[Notice] | None:
        alerts = [n for n in s.notices(petition_id=pid) if n.kind == "collective_alert"]
        done = {(n.channel, n.recipient) for n in alerts if n.state in ("sent", "delivered")}
        wanted = {(c, r) for c in ("sms", "inbox") for r in LEADER_PHONES}
        phones = {m.phone for m in s.sms.received}
        return alerts if wanted <= done and set(LEADER_PHONES.values()) <= phones else None

    alerts = wait_for(alerted, timeout=10, interval=0.02)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"the leaders were alerted after {elapsed:.2f}s"
    assert all(n.urgent for n in alerts)
    for phone in LEADER_PHONES.values():
        [text] = sms_to(s, phone)
        assert text["subject"].startswith("【紧急】集体访")
        assert "12 人" in text["body"] and receipt["query_code"] in text["body"]
    unit = "qinghe.party_gov"
    r = s.client.get("/api/v1/inbox", headers=s.auth("leader", unit))
    assert r.status_code == 200
    assert any(n["kind"] == "collective_alert" and n["petition_id"] == pid for n in r.json())
