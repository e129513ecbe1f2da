"""Rotating the personal-data key: old data stays readable and findable, and after
`xinfang keys reencrypt` the old key can go."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from intake_api.rekey import reencrypt
from services.app import build_app
from shared.db import make_engine, make_session_factory, transaction
from shared.security import DataProtector
from tests.conftest import load_demo, make_token
from tests.helpers import petition, wait_for
from tests.services.conftest import settings_for

OLD, NEW = "old-county-key", "new-county-key"


def app_with(url: str, key: str, previous: str = "") -> Any:
    settings = settings_for(url)
    settings.security.xinfang_secret_key = key
    settings.security.xinfang_previous_secret_keys = previous
    return build_app(settings)


def test_a_rotated_key_keeps_every_petition_readable_and_trackable(db_url: str) -> None:
    load_demo(db_url)
    staff = {"Authorization": f"Bearer {make_token(db_url, 'qinghe.petition_bureau', 'registrar')}"}
    track = None
    with TestClient(app_with(db_url, OLD)) as client:
        receipt = client.post("/api/v1/petitions", json=petition()).json()
        track = f"/api/v1/track/{receipt['query_code']}"
        wait_for(lambda: client.get(track, params={"phone": "13800138000"}).status_code == 200)
    personal = f"/api/v1/petitions/{receipt['id']}/personal-data"

    # The new key with the old one kept: everything still works.
    with TestClient(app_with(db_url, NEW, previous=OLD)) as client:
        assert client.get(track, params={"phone": "13800138000"}).status_code == 200
        r = client.get(personal, params={"reason": "核实信访人身份"}, headers=staff)
        assert r.json()["people"][0]["phone"] == "13800138000"
        # a new petition by the same person is still recognised as a repeat
        again = client.post("/api/v1/petitions", json=petition()).json()

        def flags() -> list[str] | None:
            rec = client.get(f"/api/v1/petitions/{again['id']}", headers=staff).json()
            return rec["routing"]["flags"] if rec.get("routing") else None

        assert "repeat" in wait_for(flags)

    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as session:
        assert reencrypt(session, DataProtector(NEW.encode(), (OLD.encode(),))) == 1
    with transaction(make_session_factory(engine)) as session:
        assert reencrypt(session, DataProtector(NEW.encode(), (OLD.encode(),))) == 0  # idempotent
    engine.dispose()

    # The old key gone: data re-encrypted, casework told the new phone hashes.
    with TestClient(app_with(db_url, NEW)) as client:
        wait_for(lambda: client.get(track, params={"phone": "13800138000"}).status_code == 200)
        r = client.get(personal, params={"reason": "核实信访人身份"}, headers=staff)
        assert r.status_code == 200
        assert r.json()["people"][0]["id_number"] == "11010519491231002X"
