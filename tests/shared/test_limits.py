"""Request size limits, rate limits and Idempotency-Key, on the whole app."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.app import build_app
from tests.conftest import load_demo
from tests.helpers import petition
from tests.services.conftest import settings_for


@pytest.fixture
def limited(db_url: str) -> Iterator[tuple[TestClient, str]]:
    load_demo(db_url)
    app = build_app(settings_for(db_url, rate_ip_per_minute=5, rate_phone_per_hour=4))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, db_url


def count(url: str) -> int:
    from sqlalchemy import func, select

    from intake_api.models import Petition
    from shared.db import make_engine, make_session_factory

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        n = session.scalar(select(func.count()).select_from(Petition)) or 0
    engine.dispose()
    return n


def test_a_body_over_one_mebibyte_is_refused_with_413(limited: tuple[TestClient, str]) -> None:
    client, url = limited
    big = json.dumps(petition(content="字" * 10)).encode() + b" " * (1024 * 1024)
    r = client.post("/api/v1/petitions", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "1024 KB" in r.json()["detail"]
    assert count(url) == 0


def test_a_streamed_body_is_cut_off_as_it_passes_the_limit(limited: tuple[TestClient, str]) -> None:
    client, url = limited

    def chunks() -> Iterator[bytes]:
        yield b'{"title": "' + b"a" * 1000
        for _ in range(1100):
            yield b"a" * 1024
        yield b'"}'

    r = client.post(
        "/api/v1/petitions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["status"] == 413
    assert count(url) == 0


def test_just_under_the_limit_is_read(limited: tuple[TestClient, str]) -> None:
    client, _ = limited
    body = json.dumps(petition()).encode()
    body += b" " * (1024 * 1024 - len(body))
    r = client.post("/api/v1/petitions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 201


def test_too_many_submissions_from_one_address_get_429(limited: tuple[TestClient, str]) -> None:
    client, url = limited
    statuses = []
    for i in range(6):
        body = petition(petitioners=[{"name": "张三", "phone": f"1380013800{i}"}])
        statuses.append(client.post("/api/v1/petitions", json=body).status_code)
    assert statuses == [201] * 5 + [429]
    r = client.post("/api/v1/petitions", json=petition())
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "秒后再试" in r.json()["detail"]
    assert count(url) == 5
    # staff endpoints are not limited
    assert client.get("/healthz").status_code == 200


def test_one_phone_cannot_flood_from_many_addresses(db_url: str) -> None:
    load_demo(db_url)
    app = build_app(settings_for(db_url, rate_phone_per_hour=2))
    with TestClient(app) as a, TestClient(app, client=("10.9.9.9", 5000)) as b:
        assert a.post("/api/v1/petitions", json=petition()).status_code == 201
        assert b.post("/api/v1/petitions", json=petition(title="换个地址")).status_code == 201
        assert b.post("/api/v1/petitions", json=petition(title="第三次")).status_code == 429
        other = petition(petitioners=[{"name": "李四", "phone": "13911112222"}])
        assert b.post("/api/v1/petitions", json=other).status_code == 201


def test_the_same_idempotency_key_and_body_return_the_first_response(
    limited: tuple[TestClient, str],
) -> None:
    client, url = limited
    headers = {"Idempotency-Key": "mp-7c1e-0001"}
    first = client.post("/api/v1/petitions", json=petition(), headers=headers)
    again = client.post("/api/v1/petitions", json=petition(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert count(url) == 1
    different = client.post("/api/v1/petitions", json=petition(title="另一件"), headers=headers)
    assert different.status_code == 409
    assert "内容不同" in different.json()["detail"]
    bad = client.post(
        "/api/v1/petitions", json=petition(), headers={"Idempotency-Key": "has space"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "Idempotency-Key"
    assert count(url) == 1


def test_a_refused_request_is_replayed_as_refused(limited: tuple[TestClient, str]) -> None:
    client, url = limited
    headers = {"Idempotency-Key": "bad-body-1"}
    body = petition(division_code="990101999999")
    assert client.post("/api/v1/petitions", json=body, headers=headers).status_code == 422
    assert client.post("/api/v1/petitions", json=body, headers=headers).status_code == 422
    assert count(url) == 0


def test_concurrent_requests_with_one_key_make_one_petition(db_url: str) -> None:
    load_demo(db_url)
    app = build_app(settings_for(db_url))
    with TestClient(app) as client:
        results: list[int] = []

        def send() -> None:
            r = client.post(
                "/api/v1/petitions", json=petition(), headers={"Idempotency-Key": "race-1"}
            )
            results.append(r.status_code)

        threads = [threading.Thread(target=send) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results.count(201) >= 1
    assert set(results) <= {201, 409}
    assert count(db_url) == 1
