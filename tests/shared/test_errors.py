"""A request that loses a race to insert the same row is a 409 the client may retry
(and an Idempotency-Key replay does not keep it); any other broken database rule is
a bug: a logged 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from shared.db import make_engine, make_session_factory
from shared.errors import install_problem_handlers
from shared.idempotency import Idempotency

INSERTS = {
    "twice": "INSERT INTO thing (id, name) VALUES (1, 'b')",  # the same key again
    "nameless": "INSERT INTO thing (id, name) VALUES (2, NULL)",  # a NOT NULL rule
}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(Idempotency, factory=factory)

    @app.post("/things/{how}", status_code=201)
    def make(how: str) -> dict[str, str]:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS thing "
                    "(id INTEGER PRIMARY KEY, name VARCHAR(10) NOT NULL)"
                )
            )
            conn.execute(text("DELETE FROM thing"))
            conn.execute(text("INSERT INTO thing (id, name) VALUES (1, 'a')"))
            conn.execute(text(INSERTS[how]))
        return {"made": how}

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    engine.dispose()


def test_a_duplicate_key_is_a_409_to_retry_and_never_replayed(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    c = client
    with caplog.at_level(logging.WARNING, logger="xinfang.errors"):
        first = c.post("/things/twice", headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 409
    assert first.headers["content-type"].startswith("application/problem+json")
    assert first.headers["retry-after"] == "1"
    assert "冲突" in first.json()["detail"] and "未作任何更改" in first.json()["detail"]
    assert any("lost a race" in r.getMessage() for r in caplog.records)
    # the retry runs again instead of getting the kept conflict for a day
    again = c.post("/things/twice", headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 409 and "idempotent-replayed" not in again.headers


def test_another_broken_rule_is_a_logged_500(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    c = client
    with caplog.at_level(logging.ERROR, logger="xinfang.errors"):
        r = c.post("/things/nameless")
    assert r.status_code == 500
    assert r.json()["detail"] == "服务器内部错误，已记录，请稍后重试"
    assert any(rec.exc_info for rec in caplog.records)
