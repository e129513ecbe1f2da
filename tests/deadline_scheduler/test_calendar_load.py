"""Next year's holidays: warned about until loaded; loading them recomputes open
deadlines, which then say how they were worked out."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from deadline_scheduler.models import Deadline
from shared.db import make_engine, make_session_factory, transaction
from tests.conftest import TEST_SECRET
from tests.helpers import petition, wait_for
from tests.services.conftest import Api
from tests.shared.test_limits import serve

XINFANG = str(Path(sys.executable).with_name("xinfang"))
# A made-up 2027 schedule: New Year's Day week off, a make-up Saturday.
SCHEDULE = {
    "year": 2027,
    "holidays": ["2027-01-01", "2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07"],
    "workdays": ["2027-01-09"],
}


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "XINFANG_SECRET_KEY": TEST_SECRET}
    return subprocess.run([XINFANG, *args], env=env, capture_output=True, text=True, timeout=60)


def test_loading_next_years_holidays_recomputes_open_deadlines(api: Api, tmp_path: Path) -> None:
    ready = api.client.get("/readyz").json()
    assert any("2027" in w for w in ready["warnings"])  # said loudly until loaded

    pid = api.client.post("/api/v1/petitions", json=petition()).json()["id"]

    def deadline() -> dict[str, Any] | None:
        rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
        found = [d for d in rec.get("deadlines") or [] if d["step"] == "accept"]
        return found[0] if found else None

    wait_for(deadline)
    # Pretend it was registered on 2026-12-20: 15 days run to 2027-01-04.
    engine = make_engine(api.url)
    with transaction(make_session_factory(engine)) as session:
        row = session.query(Deadline).filter_by(petition_id=pid, step="accept").one()
        session.execute(
            update(Deadline)
            .where(Deadline.id == row.id)
            .values(
                started_at=datetime.fromisoformat("2026-12-20T10:00:00+08:00"), provisional=True
            )
        )
    engine.dispose()

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"year": 2027, "holidays": ["2026-12-31"]}))
    refused = run(api.url, "calendar", "load", str(bad))
    assert refused.returncode == 1 and "不属于 2027 年" in refused.stderr

    good = tmp_path / "2027.json"
    good.write_text(json.dumps(SCHEDULE))
    loaded = run(api.url, "calendar", "load", str(good))
    assert loaded.returncode == 0, loaded.stderr
    assert "recomputed" in loaded.stdout

    def recomputed() -> dict[str, Any] | None:
        d = deadline()
        return d if d and d["due_at"].startswith("2027-01-08") else None

    d = wait_for(recomputed)
    # 2027-01-04 is a loaded holiday (to 01-07): the period ends on 01-08
    assert d["provisional"] is False
    assert d["basis"]["days_skipped"] == ["2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07"]
    timeline = api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar).json()
    assert any("重新计算" in e["summary"] for e in timeline)
    assert not any("2027" in w for w in api.client.get("/readyz").json()["warnings"])
    assert datetime.fromisoformat(d["due_at"]).hour == 23


def test_a_starting_scheduler_logs_the_years_it_does_not_know(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="xinfang"), serve(db_url) as api:
        at_start = [r.getMessage() for r in caplog.records]
        warnings = api.client.get("/readyz").json()["warnings"]
    assert any("2027" in w for w in warnings)
    assert any("holiday schedule not loaded for [2027]" in m for m in at_start), at_start
