"""Webhooks reach public addresses only: loopback, private, link-local (cloud
metadata), reserved and unspecified addresses are refused however they are
written, and after DNS resolution, unless the allow-list names them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.app import build_app
from shared.egress import EgressPolicy
from tests.conftest import load_demo, make_token
from tests.services.conftest import settings_for

PUBLIC = "93.184.216.34"


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


NAMES = {
    "hooks.example.gov.cn": [PUBLIC],
    "inward.example.gov.cn": [PUBLIC, "10.0.0.8"],  # one inward address is enough
    "rebound.example.gov.cn": ["127.0.0.1"],
}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://[::1]/hook",
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://0177.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://172.16.5.5/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "https://inward.example.gov.cn/hook",
        "https://rebound.example.gov.cn/hook",
        "https://nowhere.example.gov.cn/hook",
        "ftp://hooks.example.gov.cn/hook",
    ],
)
def test_inward_addresses_are_refused(url: str) -> None:
    assert EgressPolicy.from_setting([], resolver(NAMES)).problem(url) is not None


def test_public_addresses_pass_and_the_allow_list_opens_named_hosts() -> None:
    policy = EgressPolicy.from_setting([], resolver(NAMES))
    assert policy.problem("https://hooks.example.gov.cn/hook") is None
    assert policy.problem(f"http://{PUBLIC}:8080/x") is None
    allowed = EgressPolicy.from_setting(["127.0.0.1", "10.0.0.0/8", "rebound.example.gov.cn"])
    assert allowed.problem("http://127.0.0.1:9/x") is None
    assert allowed.problem("http://10.9.9.9/x") is None
    assert allowed.problem("http://192.168.1.1/x") is not None


@pytest.fixture
def admin_client(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    monkeypatch.setenv("NOTIFY_WEBHOOK_ALLOWED_HOSTS", "")  # as deployed: nothing inward
    load_demo(db_url)
    with TestClient(build_app(settings_for(db_url)), raise_server_exceptions=False) as client:
        token = make_token(db_url, "qinghe.petition_bureau", "admin")
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/events",
        "http://[::1]:9/events",
        "http://0x7f000001/events",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9/events",
    ],
)
def test_a_subscription_to_an_inward_address_is_refused_naming_the_url(
    admin_client: tuple[TestClient, dict[str, str]], url: str
) -> None:
    client, admin = admin_client
    r = client.post(
        "/api/v1/webhook-subscriptions",
        json={"url": url, "event_types": ["cn.xinfang.petition.routed"]},
        headers=admin,
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "url"
    assert "内网" in r.json()["errors"][0]["message"] or "解析" in r.json()["errors"][0]["message"]
    assert client.get("/api/v1/webhook-subscriptions", headers=admin).json() == []


def test_a_delivery_to_a_url_that_is_no_longer_allowed_is_refused_not_sent(db_url: str) -> None:
    """The allow-list is read again at every delivery: a subscription made while its
    host was allowed is not posted to once it is not (nor if its name came to resolve
    inward); the notice is dead, saying why, and can be re-driven."""
    from sqlalchemy import select

    from notify_gateway.addressing import WEBHOOK
    from notify_gateway.config import NotifySettings
    from notify_gateway.dispatcher import Dispatcher
    from notify_gateway.models import Notice
    from shared.security import DataProtector
    from tests.conftest import TEST_SECRET
    from tests.helpers import petition, wait_for

    load_demo(db_url)
    app = build_app(settings_for(db_url))
    # the lifespan starts whatever dispatcher it finds: leave it none, this test drives one
    app.state.dispatcher.stop()
    del app.state.dispatcher
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = {"Authorization": f"Bearer {make_token(db_url, 'qinghe.petition_bureau', 'admin')}"}
        made = client.post(
            "/api/v1/webhook-subscriptions",
            json={
                "url": "http://127.0.0.1:9/events",
                "event_types": ["cn.xinfang.petition.received"],
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        pid = client.post("/api/v1/petitions", json=petition()).json()["id"]
        factory = app.state.factory

        def queued() -> Notice | None:
            with factory() as session:
                return session.scalar(
                    select(Notice).where(Notice.petition_id == pid, Notice.channel == WEBHOOK)
                )

        wait_for(queued)
        strict = Dispatcher(
            factory, {}, NotifySettings(), DataProtector(TEST_SECRET.encode()), EgressPolicy()
        )
        assert strict.run_once(WEBHOOK) == 1
        notice = queued()
        assert notice is not None and notice.state == "dead"
        assert "内网" in (notice.last_error or "")
