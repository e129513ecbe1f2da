"""A NUL character anywhere a client can put one is refused at once: in a path, a
404 (it names nothing); in a query parameter or a JSON string or key, a 422 naming
the field, on SQLite and on PostgreSQL (whose text
cannot hold it), and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared.nul_guard import nul_field
from tests.helpers import petition
from tests.services.conftest import Api
from tests.shared.test_limits import serve, stored


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    with serve(db_url) as app:
        yield app


def assert_names(r: Any, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"field": field, "message": "不能包含空字符（\\u0000）"}]


def test_a_nul_in_a_path_is_a_404_and_in_a_query_a_422(api: Api) -> None:
    staff = api.registrar
    # no petition has a NUL in its id: the path names nothing
    for r in (
        api.client.get("/api/v1/petitions/a%00b", headers=staff),
        api.client.get("/api/v1/petitions/a%00b/timeline", headers=staff),
        api.client.post("/api/v1/petitions/a%00b/accept", json={}, headers=staff),
    ):
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["detail"].startswith("找不到 /api/v1/petitions/a\\u0000b")
    assert_names(
        api.client.get("/api/v1/notices", params={"petition_id": "a\x00b"}, headers=staff),
        "petition_id",
    )
    assert_names(
        api.client.get("/api/v1/deadlines", params={"unit_id": "a\x00"}, headers=staff), "unit_id"
    )
    assert_names(
        api.client.get("/api/v1/petitions", params={"unit_id": "a\x00"}, headers=staff), "unit_id"
    )


def test_a_nul_in_a_json_string_or_key_is_a_422_and_stores_nothing(api: Api) -> None:
    body = petition()
    body["petitioners"][0]["address"] = "红星村\x00三组"
    assert_names(api.client.post("/api/v1/petitions", json=body), "petitioners.0.address")
    keyed = {**petition(), "tit\x00le": "x"}
    assert_names(api.client.post("/api/v1/petitions", json=keyed), "tit\\u0000le")
    assert stored(api) == 0
    # the app reads UTF-16 and UTF-32 JSON, too: the guard looks there as well
    for encoding in ("utf-16", "utf-32"):
        wide = json.dumps(body, ensure_ascii=False).encode(encoding)
        r = api.client.post(
            "/api/v1/petitions", content=wide, headers={"content-type": "application/json"}
        )
        assert_names(r, "petitioners.0.address")
    assert stored(api) == 0
    # the escaped text "\\u0000" (a backslash, then u0000) is ordinary text
    fine = petition()
    fine["content"] += "（原文：\\u0000）"
    assert api.client.post("/api/v1/petitions", json=fine).status_code == 201


def test_the_field_is_found_however_deep() -> None:
    assert nul_field({"a": [{"b": "ok"}, {"c": ["x", "y\x00"]}]}) == "a.1.c.1"
    assert nul_field(["\x00"]) == "0"
    assert nul_field({"a": 1, "b": None, "c": True}) is None
