"""Idempotency-Key: the first response replayed, 409 for another body or while the
first is running, 422 for a malformed key; on the whole app and the bare middleware."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from shared.db import Base, make_engine, make_session_factory, transaction
from shared.idempotency import Idempotency, IdempotencyRecord
from shared.timeutil import utcnow
from tests.helpers import petition
from tests.services.conftest import Api
from tests.shared.test_limits import serve, stored


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    with serve(db_url) as app:
        yield app


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_the_same_key_and_body_return_the_first_response_and_store_one(api: Api) -> None:
    first = api.client.post("/api/v1/petitions", json=petition(), headers=key("mp-7c1e-0001"))
    again = api.client.post("/api/v1/petitions", json=petition(), headers=key("mp-7c1e-0001"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # same id, query code, received_at
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert stored(api) == 1
    # without a key, the same body is a new submission
    assert api.client.post("/api/v1/petitions", json=petition()).status_code == 201
    assert stored(api) == 2


def test_the_same_key_with_another_body_is_409(api: Api) -> None:
    h = key("mp-7c1e-0002")
    assert api.client.post("/api/v1/petitions", json=petition(), headers=h).status_code == 201
    r = api.client.post("/api/v1/petitions", json=petition(title="另一件事"), headers=h)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert doc["status"] == 409 and doc["title"] == "与当前状态冲突"
    assert "Idempotency-Key" in doc["detail"] and "内容不同" in doc["detail"]
    assert stored(api) == 1


@pytest.mark.parametrize(
    "bad",
    [b"", b"k" * 201, "键-中文".encode(), b"tab\tinside"],
    ids=["empty", "too-long", "non-ascii", "control"],
)
def test_a_malformed_key_is_422_naming_the_header(api: Api, bad: bytes) -> None:
    r = api.client.post("/api/v1/petitions", json=petition(), headers=[(b"Idempotency-Key", bad)])
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert stored(api) == 0


def test_the_longest_and_oddest_keys_are_accepted(api: Api) -> None:
    for k in ["k" * 200, "a b~!@#$%^&*()_+{}|:<>?", "x"]:
        r = api.client.post("/api/v1/petitions", json=petition(title=k[:20]), headers=key(k))
        assert r.status_code == 201, (k, r.text)


def test_a_refused_request_is_replayed_as_refused(api: Api) -> None:
    h = key("bad-body-1")
    body = petition(division_code="990101999999")
    first = api.client.post("/api/v1/petitions", json=body, headers=h)
    assert first.status_code == 422
    again = api.client.post("/api/v1/petitions", json=body, headers=h)
    assert (again.status_code, again.json()) == (422, first.json())
    assert again.headers["content-type"].startswith("application/problem+json")
    assert stored(api) == 0


def test_a_key_belongs_to_its_path_and_its_caller(api: Api) -> None:
    h = key("shared-key")
    body = petition()
    anonymous = api.client.post("/api/v1/petitions", json=body, headers=h)
    signed_in = api.client.post("/api/v1/petitions", json=body, headers={**h, **api.registrar})
    assert anonymous.status_code == signed_in.status_code == 201
    assert anonymous.json()["id"] != signed_in.json()["id"]
    # the same key on another path is another request (here: a letter, staff only)
    letter = api.client.post("/api/v1/mail/letters", json=body, headers={**h, **api.registrar})
    assert letter.status_code != 409
    assert stored(api) >= 2


def test_concurrent_requests_with_one_key_make_one_petition(api: Api) -> None:
    results: list[tuple[int, Any]] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        r = api.client.post("/api/v1/petitions", json=petition(), headers=key("race-1"))
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = [status for status, _ in results]
    assert len(results) == 8 and set(statuses) <= {201, 409}
    created = {doc["id"] for status, doc in results if status == 201}
    assert len(created) == 1
    for status, doc in results:
        if status == 409:
            assert "Idempotency-Key" in doc["detail"]
    assert stored(api) == 1
    # once done, every retry gets the one petition
    r = api.client.post("/api/v1/petitions", json=petition(), headers=key("race-1"))
    assert (r.status_code, r.json()["id"]) == (201, created.pop())


# --- the bare middleware ------------------------------------------------------------


class Endpoint:
    """Counts its runs; can be held while running, or made to fail."""

    def __init__(self) -> None:
        self.runs = 0
        self.fail = False
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    async def handle(self, request: Request) -> PlainTextResponse | JSONResponse:
        self.runs += 1
        body = await request.body()  # the middleware's read left the body for the app
        self.started.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        if self.fail:
            return PlainTextResponse("坏了", status_code=503)
        return JSONResponse({"run": self.runs, "echo": body.decode()}, status_code=201)


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[tuple[TestClient, Endpoint, Any]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'idem.sqlite3'}")
    Base.metadata.create_all(engine, tables=[IdempotencyRecord.__table__])  # type: ignore[list-item]
    factory = make_session_factory(engine)
    endpoint = Endpoint()
    inner = Starlette(routes=[Route("/things", endpoint.handle, methods=["POST", "GET"])])
    with TestClient(Idempotency(inner, factory=factory)) as client:
        yield client, endpoint, factory
    engine.dispose()


def test_a_server_error_is_not_kept_so_the_client_may_retry(
    bare: tuple[TestClient, Endpoint, Any],
) -> None:
    client, endpoint, _ = bare
    endpoint.fail = True
    assert client.post("/things", content=b"x", headers=key("k1")).status_code == 503
    endpoint.fail = False
    r = client.post("/things", content=b"x", headers=key("k1"))
    assert (r.status_code, r.json()) == (201, {"run": 2, "echo": "x"})
    assert client.post("/things", content=b"x", headers=key("k1")).json()["run"] == 2
    assert endpoint.runs == 2


def test_a_request_still_running_makes_the_same_key_wait(
    bare: tuple[TestClient, Endpoint, Any],
) -> None:
    client, endpoint, _ = bare
    endpoint.release.clear()
    first: list[Any] = []
    worker = threading.Thread(
        target=lambda: first.append(client.post("/things", content=b"x", headers=key("k2")))
    )
    worker.start()
    assert endpoint.started.wait(10)
    r = client.post("/things", content=b"x", headers=key("k2"))
    assert r.status_code == 409
    assert r.json()["detail"].startswith("同一 Idempotency-Key 的请求正在处理")
    endpoint.release.set()
    worker.join(10)
    assert first[0].status_code == 201
    again = client.post("/things", content=b"x", headers=key("k2"))
    assert (again.status_code, again.json()) == (201, first[0].json())
    assert endpoint.runs == 1


def test_records_expire_after_a_day_and_abandoned_ones_after_ten_minutes(
    bare: tuple[TestClient, Endpoint, Any],
) -> None:
    client, endpoint, factory = bare
    assert client.post("/things", content=b"x", headers=key("k3")).json()["run"] == 1
    assert client.post("/things", content=b"y", headers=key("k3")).status_code == 409

    def age(by: timedelta, **values: Any) -> None:
        with transaction(factory) as session:
            session.execute(update(IdempotencyRecord).values(created_at=utcnow() - by, **values))

    age(timedelta(hours=23))
    assert client.post("/things", content=b"x", headers=key("k3")).json()["run"] == 1
    age(timedelta(hours=25))
    r = client.post("/things", content=b"y", headers=key("k3"))
    assert (r.status_code, r.json()["run"]) == (201, 2)
    # a record left in progress (its process died) blocks the key for ten minutes only
    age(timedelta(minutes=5), status=None, body=None)
    assert client.post("/things", content=b"y", headers=key("k3")).status_code == 409
    age(timedelta(minutes=11), status=None, body=None)
    assert client.post("/things", content=b"y", headers=key("k3")).json()["run"] == 3


def test_requests_without_a_key_or_not_post_are_untouched(
    bare: tuple[TestClient, Endpoint, Any],
) -> None:
    client, endpoint, _ = bare
    assert client.post("/things", content=b"x").json()["run"] == 1
    assert client.post("/things", content=b"x").json()["run"] == 2
    assert client.get("/things", headers=key("k4")).json()["run"] == 3
    assert client.get("/things", headers=key("k4")).json()["run"] == 4
    assert client.get("/things", headers={"Idempotency-Key": ""}).status_code == 201
