"""Schemathesis over the intake's OpenAPI: whatever a client sends, never a 500,
and every error is a problem document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.app import build_app
from tests.conftest import Templates, load_demo, make_api_key, make_token, require_service
from tests.services.conftest import settings_for


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_app(
    request: pytest.FixtureRequest, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app on SQLite and on PostgreSQL, whose text refuses what SQLite takes (a
    NUL), so that each is fuzzed."""
    import os

    os.environ.setdefault("XINFANG_SECRET_KEY", "fuzz-secret")
    if request.param == "sqlite":
        url = templates.sqlite_copy(tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3")
    else:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        name, url = templates.postgres_copy()
        request.addfinalizer(lambda: templates.drop(name))
    load_demo(url)
    app = build_app(settings_for(url))
    headers = {
        "Authorization": f"Bearer {make_token(url, 'qinghe.petition_bureau', 'registrar')}",
        "X-Api-Key": make_api_key(url, "fuzz"),
    }
    with TestClient(app):  # runs the lifespan: the bus is up while we fuzz
        yield app, headers


@pytest.fixture(scope="module")
def intake_schema(fuzz_app: tuple[Any, dict[str, str]]) -> Any:
    app, _ = fuzz_app
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# The intake first (the demand), and every other service's endpoints too:
# no input may crash any of them.
schema = schemathesis.pytest.from_fixture("intake_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_intake_fail(case: Any, fuzz_app: tuple[Any, dict[str, str]]) -> None:
    _, headers = fuzz_app
    response = case.call(headers={**(case.headers or {}), **headers})
    case.validate_response(response, checks=(not_a_server_error,))
    if response.status_code >= 400:
        content_type = response.headers["content-type"][0]
        assert content_type.startswith("application/problem+json"), response.text
