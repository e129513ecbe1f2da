"""`xinfang policy load`: a county's own time limits from a file, all or nothing;
open deadlines are worked out again under them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.deadline_scheduler.test_calendar_load import run
from tests.helpers import petition, wait_for
from tests.services.conftest import Api


def handle_deadline(api: Api, pid: str) -> dict[str, Any] | None:
    rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
    found = [d for d in rec.get("deadlines") or [] if d["step"] == "handle"]
    return found[0] if found else None


def test_a_bad_file_changes_nothing_and_says_where(api: Api, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "time_limits": [
                    {"step": "handle", "level": "village", "length": 0, "unit": "working_days"},
                    {"step": "handel", "length": 5, "unit": "working_days"},
                ]
            }
        )
    )
    refused = run(api.url, "policy", "load", str(bad))
    assert refused.returncode == 1
    assert "time_limits.0.length" in refused.stderr and "time_limits.1.step" in refused.stderr
    assert "未载入" in refused.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"time_limits": [\n  {"step": }\n]}')
    refused = run(api.url, "policy", "load", str(broken))
    assert refused.returncode == 1 and "第 2 行" in refused.stderr
    missing = run(api.url, "policy", "load", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    # the demo county's limits are still in force
    shown = api.client.get("/api/v1/time-limits", headers=api.registrar).json()
    handle = next(p for p in shown if p["step"] == "handle")
    assert {(x["level"], x["length"]) for x in handle["local"]} == {
        ("village", 5),
        ("township", 10),
        ("county", 15),
    }


def test_loading_limits_recomputes_open_deadlines(api: Api, tmp_path: Path) -> None:
    pid = api.client.post("/api/v1/petitions", json=petition()).json()["id"]

    def routed() -> bool:
        rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
        return "accept" in (rec.get("allowed_steps") or [])

    wait_for(routed)
    hrss = api.auth("qinghe.hrss", "handler")
    assert api.client.post(f"/api/v1/petitions/{pid}/accept", json={}, headers=hrss).is_success
    assert wait_for(lambda: handle_deadline(api, pid))["basis"]["length"] == 15

    # back to the regulation's 60 calendar days for county departments
    good = tmp_path / "limits.json"
    good.write_text(json.dumps({"time_limits": []}))
    loaded = run(api.url, "policy", "load", str(good))
    assert loaded.returncode == 0, loaded.stderr
    assert "recomputed 1 open deadlines" in loaded.stdout

    def sixty() -> dict[str, Any] | None:
        d = handle_deadline(api, pid)
        return d if d and d["basis"]["length"] == 60 else None

    d = wait_for(sixty)
    assert d["basis"]["unit"] == "calendar_days" and d["basis"]["local_limit"] is False
    again = run(api.url, "policy", "load", "--if-empty", str(good))
    assert again.returncode == 0 and "recomputed" in again.stdout  # none stored: it loads
