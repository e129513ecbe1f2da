from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.app import build_app
from shared.config import BusSettings, DatabaseSettings, LimitSettings, SecuritySettings, Settings
from tests.conftest import TEST_SECRET, load_demo, make_api_key, make_token
from tests.helpers import wait_for


@dataclass
class Api:
    client: TestClient
    url: str
    registrar: dict[str, str]

    def auth(self, unit: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(self.url, unit, role)}"}


def settings_for(
    url: str, bus_url: str = "embedded://", prefix: str = "xinfang", **limits: int
) -> Settings:
    """Settings for a test app; rate limits are lifted unless a test sets them."""
    return Settings(
        limits=LimitSettings(
            **{"rate_ip_per_minute": 100_000, "rate_phone_per_hour": 100_000, **limits}
        ),
        db=DatabaseSettings(database_url=url),
        bus=BusSettings(
            event_bus_url=bus_url,
            event_bus_prefix=prefix,
            outbox_poll_seconds=0.02,
            event_retry_base_seconds=0.05,
            event_ack_wait_seconds=2,
        ),
        security=SecuritySettings(xinfang_secret_key=TEST_SECRET),
    )


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """The whole app in one process (embedded bus) on SQLite and on PostgreSQL."""
    load_demo(db_url)
    app = build_app(settings_for(db_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        registrar = {
            "Authorization": f"Bearer {make_token(db_url, 'qinghe.petition_bureau', 'registrar')}"
        }
        yield Api(client, db_url, registrar)


@pytest.fixture
def api_key(api: Api) -> dict[str, str]:
    return {"X-Api-Key": make_api_key(api.url, "12345热线平台")}


def routed(api: Api, pid: str) -> dict[str, Any]:
    """The record once routing has designated the lead unit."""

    def probe() -> dict[str, Any] | None:
        r = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar)
        if r.status_code == 404:  # casework has not seen the petition yet
            return None
        assert r.status_code == 200, r.text
        rec = r.json()
        return rec if rec["status"] == "routed" and rec["routing"] else None

    return wait_for(probe)
