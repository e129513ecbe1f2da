"""The request body size limit (413), on the whole app and on the bare middleware."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from intake_api.models import Petition
from services.app import build_app
from shared.config import LimitSettings
from shared.db import make_engine, make_session_factory
from shared.limits import BodySizeLimit, Message
from tests.conftest import load_demo, make_token
from tests.helpers import petition, wait_for
from tests.services.conftest import Api, settings_for

MIB = 1024 * 1024
JSON = {"content-type": "application/json"}


@contextmanager
def serve(
    db_url: str, rate_ip_per_minute: int = 100_000, rate_phone_per_hour: int = 100_000
) -> Iterator[Api]:
    """The whole app, as the services' `api` fixture builds it, with these rate limits."""
    load_demo(db_url)
    settings = settings_for(
        db_url, rate_ip_per_minute=rate_ip_per_minute, rate_phone_per_hour=rate_phone_per_hour
    )
    app = build_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        token = make_token(db_url, "qinghe.petition_bureau", "registrar")
        yield Api(client, db_url, {"Authorization": f"Bearer {token}"})


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    with serve(db_url) as app:
        yield app


def padded(size: int) -> bytes:
    """A valid petition body, padded with JSON whitespace to exactly `size` bytes."""
    body = json.dumps(petition(), ensure_ascii=False).encode()
    assert len(body) < size
    return body + b" " * (size - len(body))


def listed(api: Api) -> list[str]:
    """The ids on the registrar's worklist (a projection, filled from events)."""
    r = api.client.get("/api/v1/petitions", headers=api.registrar)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()]


def stored(api: Api) -> int:
    """Petitions in the database itself."""
    engine = make_engine(api.url)
    with make_session_factory(engine)() as session:
        n = session.scalar(select(func.count()).select_from(Petition)) or 0
    engine.dispose()
    return n


def assert_413(r: Any) -> None:
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert {"type", "title", "status", "detail"} <= doc.keys()
    assert doc["status"] == 413
    assert doc["title"] == "请求体过大"
    assert "1 MiB" in doc["detail"] and "1048576 字节" in doc["detail"]


def test_the_default_limit_is_one_mebibyte() -> None:
    assert LimitSettings().max_body_bytes == MIB


def test_one_byte_over_one_mebibyte_is_refused_and_nothing_is_stored(api: Api) -> None:
    r = api.client.post("/api/v1/petitions", content=padded(MIB + 1), headers=JSON)
    assert_413(r)
    assert "本次声明 1048577 字节" in r.json()["detail"]
    assert stored(api) == 0
    assert listed(api) == []


def test_exactly_one_mebibyte_passes_the_size_check(api: Api) -> None:
    r = api.client.post("/api/v1/petitions", content=padded(MIB), headers=JSON)
    assert r.status_code == 201, r.text
    assert wait_for(lambda: listed(api)) == [r.json()["id"]]


def test_a_chunked_body_is_cut_off_as_it_passes_the_limit(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(1100):
            yield b"a" * 1024
        yield b'"}'

    r = api.client.post("/api/v1/petitions", content=chunks(), headers=JSON)
    assert_413(r)
    assert stored(api) == 0
    assert listed(api) == []


def test_a_chunked_body_under_the_limit_is_read(api: Api) -> None:
    body = padded(MIB)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    r = api.client.post("/api/v1/petitions", content=chunks(), headers=JSON)
    assert r.status_code == 201, r.text


def test_ordinary_requests_are_untouched(api: Api) -> None:
    assert api.client.get("/healthz").status_code == 200
    r = api.client.post("/api/v1/petitions", json=petition())
    assert r.status_code == 201
    assert "query_code" in r.json()


# --- the bare middleware ------------------------------------------------------------


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"length": len(await request.body())})


async def stream(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"第{i}段\n".encode()

    return StreamingResponse(parts(), media_type="text/plain; charset=utf-8")


def small_app(limit: int) -> BodySizeLimit:
    inner = Starlette(
        routes=[Route("/echo", echo_length, methods=["POST"]), Route("/stream", stream)]
    )
    return BodySizeLimit(inner, max_bytes=limit)


def test_the_limit_is_named_in_the_detail_and_small_limits_work() -> None:
    with TestClient(small_app(100)) as client:
        assert client.post("/echo", content=b"x" * 100).json() == {"length": 100}
        r = client.post("/echo", content=b"x" * 101)
        assert r.status_code == 413
        assert "100 字节" in r.json()["detail"]
        r = client.post("/echo", content=iter([b"x" * 60, b"x" * 60]))
        assert r.status_code == 413


def test_streaming_responses_pass_through() -> None:
    with TestClient(small_app(100)) as client:
        with client.stream("GET", "/stream") as r:
            lines = list(r.iter_lines())
        assert r.status_code == 200
        assert lines == [f"第{i}段" for i in range(5)]


def test_a_declared_length_is_refused_before_reading_and_a_lie_is_caught() -> None:
    app = small_app(1000)

    def run(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int]:
        """(status, number of body chunks the server pulled from the client)."""
        pulled = 0
        sent: list[Message] = []

        async def receive() -> Message:
            nonlocal pulled
            pulled += 1
            last = pulled >= len(chunks)
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": not last}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "POST",
            "path": "/echo",
            "raw_path": b"/echo",
            "query_string": b"",
            "root_path": "",
            "scheme": "http",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        asyncio.run(app(scope, receive, send))
        return int(sent[0]["status"]), pulled

    # declared too large: refused without reading one byte
    assert run([(b"content-length", b"5000")], [b"x" * 1000] * 5) == (413, 0)
    # declared small but sending more: cut off at the chunk that passes the limit,
    # the rest of the stream is never pulled
    assert run([(b"content-length", b"10")], [b"x" * 400] * 10) == (413, 3)
    # chunked: the same
    assert run([(b"transfer-encoding", b"chunked")], [b"x" * 400] * 10) == (413, 3)
    assert run([], [b"x" * 500, b"x" * 500]) == (200, 2)
