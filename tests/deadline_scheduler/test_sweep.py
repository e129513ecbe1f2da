"""The urging ladder: each stage issued once per (petition, step, stage), however
many sweeps run, and what it issues reaches the timeline and the unit's inbox."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from deadline_scheduler.ladder import DEFAULT_LADDER, shift_working_days, stage_times
from deadline_scheduler.models import Deadline
from deadline_scheduler.sweep import sweep
from shared.calendar import OfficialCalendar
from shared.db import make_engine, make_session_factory, transaction
from shared.timeutil import utcnow
from tests.conftest import TEST_SECRET
from tests.helpers import petition_by, wait_for
from tests.services.conftest import Api
from tests.shared.test_limits import serve

CAL = OfficialCalendar()


def test_stages_fall_on_working_days_around_the_deadline() -> None:
    # 2026-10-08 (Thursday after National Day): 3 working days before skips the holiday
    assert shift_working_days(date(2026, 10, 8), -3, CAL) == date(2026, 9, 28)
    assert shift_working_days(date(2026, 10, 8), 0, CAL) == date(2026, 10, 8)
    times = dict(
        (s.name, t)
        for s, t in stage_times(
            datetime.fromisoformat("2026-12-14T23:59:59+08:00"), DEFAULT_LADDER, CAL
        )
    )
    assert times["reminded"].date() == date(2026, 12, 9)
    assert times["urged"].date() == date(2026, 12, 14)
    assert times["supervised"].date() == date(2026, 12, 15)
    assert times["accountability"].date() == date(2026, 12, 21)


def opened(api: Api, n: int = 0) -> tuple[str, datetime]:
    pid = api.client.post("/api/v1/petitions", json=petition_by(n)).json()["id"]

    def probe() -> dict[str, Any] | None:
        rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
        found = [d for d in rec.get("deadlines") or [] if d["step"] == "accept"]
        return found[0] if found else None

    return pid, datetime.fromisoformat(wait_for(probe)["due_at"])


def stage_at(due: datetime) -> dict[str, datetime]:
    """When each rung of the default ladder falls due for a deadline: in working days,
    so that the instants a test sweeps at never depend on the weekday it runs."""
    return {s.name: t for s, t in stage_times(due, DEFAULT_LADDER, CAL)}


def test_each_stage_once_and_told_to_the_unit(start_day: datetime, api: Api) -> None:
    pid, due = opened(api)
    at = stage_at(due)
    engine = make_engine(api.url)
    factory = make_session_factory(engine)
    assert sweep(factory, now=at["reminded"] - timedelta(minutes=1), calendar=CAL) == 0
    assert sweep(factory, now=at["reminded"], calendar=CAL) == 1
    assert sweep(factory, now=at["reminded"], calendar=CAL) == 0  # again: nothing twice
    # a sweep that missed days catches up, still once per stage
    assert sweep(factory, now=at["supervised"] + timedelta(hours=1), calendar=CAL) == 2
    assert sweep(factory, now=at["accountability"] + timedelta(days=30), calendar=CAL) == 1
    assert sweep(factory, now=at["accountability"] + timedelta(days=60), calendar=CAL) == 0
    engine.dispose()

    def stages() -> list[str] | None:
        items = api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar).json()
        found = [i["detail"]["stage"] for i in items if i["kind"] == "urging"]
        return found if len(found) == 4 else None

    assert wait_for(stages) == ["reminded", "urged", "supervised", "accountability"]
    rec = api.client.get(f"/api/v1/petitions/{pid}", headers=api.registrar).json()
    states = {d["step"]: d["state"] for d in rec["deadlines"]}
    assert states == {"forward": "met", "accept": "accountability"}
    notices = api.client.get(
        "/api/v1/notices", params={"petition_id": pid}, headers=api.registrar
    ).json()
    # By role and unit tree: the officer; the unit and its head; the superior and the
    # petition bureau's supervisors; the discipline organ that manages the unit.
    urging = {
        (n["subject"].split("：")[0], n["recipient"]) for n in notices if n["kind"] == "urging"
    }
    # each shows its rung of the ladder
    assert {n["stage"] for n in notices if n["kind"] == "urging"} == {
        "reminded",
        "urged",
        "supervised",
        "accountability",
    }
    assert all(n["stage"] is None for n in notices if n["kind"] != "urging")
    assert urging == {
        ("提醒（黄色）", "unit:qinghe.hrss:handler"),
        ("催办（橙色）", "unit:qinghe.hrss:handler"),
        ("催办（橙色）", "unit:qinghe.hrss:leader"),
        ("督办（红色）", "unit:qinghe.party_gov:leader"),
        ("督办（红色）", "unit:qinghe.petition_bureau:supervisor"),
        ("追责问责建议", "unit:qinghe.discipline:handler"),
    }


def test_racing_sweeps_issue_each_stage_once(api: Api) -> None:
    ids = [opened(api, n) for n in range(3)]
    late = max(d for _, d in ids) + timedelta(days=40)
    engine = make_engine(api.url)
    factory = make_session_factory(engine)
    counts: list[int] = []

    def run() -> None:
        counts.append(sweep(factory, now=late, calendar=CAL, batch=1))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert sum(counts) == 3 * len(DEFAULT_LADDER)


# Its instants are worked out in working days like the others'; the sample's other
# days add nothing but three CLI processes each, so it runs from the Thursday that
# once broke it (its deadline a Friday, the next two days a weekend).
@pytest.mark.parametrize("start_day", ["2026-11-19"], indirect=True)
def test_the_cli_sweeps_as_of_an_instant(start_day: datetime, api: Api) -> None:
    pid, due = opened(api)
    xinfang = str(Path(sys.executable).with_name("xinfang"))
    env = {**os.environ, "DATABASE_URL": api.url, "XINFANG_SECRET_KEY": TEST_SECRET}
    # the first day overdue: reminded, urged and supervised are due, accountability not
    when = (stage_at(due)["supervised"] + timedelta(hours=1)).isoformat()
    first = subprocess.run(
        [xinfang, "scheduler", "sweep", "--now", when], env=env, capture_output=True, text=True
    )
    again = subprocess.run(
        [xinfang, "scheduler", "sweep", "--now", when], env=env, capture_output=True, text=True
    )
    assert "issued 3 urging stages" in first.stdout, first.stderr
    assert "issued 0 urging stages" in again.stdout
    bad = subprocess.run(
        [xinfang, "scheduler", "sweep", "--now", "tomorrow"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "ISO-8601" in bad.stderr


def test_supervisors_see_deadlines_by_state_and_unit(start_day: datetime, api: Api) -> None:
    pid, due = opened(api)
    engine = make_engine(api.url)
    at = stage_at(due)["supervised"] + timedelta(hours=1)
    sweep(make_session_factory(engine), now=at, calendar=CAL)
    engine.dispose()
    supervisor = api.auth("qinghe.petition_bureau", "supervisor")
    rows = api.client.get(
        "/api/v1/deadlines", params={"state": "supervised"}, headers=supervisor
    ).json()
    assert [(r["petition_id"], r["step"]) for r in rows] == [(pid, "accept")]
    assert (
        api.client.get("/api/v1/deadlines", params={"state": "open"}, headers=supervisor).json()
        == []
    )
    mine = api.client.get(
        "/api/v1/deadlines", params={"unit_id": "qinghe.hrss"}, headers=supervisor
    )
    assert [r["step"] for r in mine.json()] == ["accept"]
    met = api.client.get("/api/v1/deadlines", params={"state": "met"}, headers=supervisor)
    assert [(r["step"], r["unit_id"]) for r in met.json()] == [
        ("forward", "qinghe.petition_bureau")
    ]
    assert (
        api.client.get(
            "/api/v1/deadlines", params={"state": "lost"}, headers=supervisor
        ).status_code
        == 422
    )
    assert (
        api.client.get("/api/v1/deadlines", headers=api.auth("qinghe.hrss", "handler")).status_code
        == 403
    )


def test_the_running_scheduler_sweeps_on_its_interval(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No `sweep` called by hand: the APScheduler interval job of a running app finds
    an acceptance deadline long past and issues its whole ladder."""
    monkeypatch.setenv("SCHEDULER_SWEEP_SECONDS", "0.2")
    with serve(db_url) as api:
        pid, _ = opened(api, 7)
        long_ago = utcnow() - timedelta(days=40)
        engine = make_engine(api.url)
        with transaction(make_session_factory(engine)) as session:
            session.execute(
                update(Deadline)
                .where(Deadline.petition_id == pid, Deadline.step == "accept")
                .values(due_at=long_ago, next_stage_at=long_ago)
            )
        engine.dispose()

        def stages() -> list[str] | None:
            r = api.client.get(f"/api/v1/petitions/{pid}/timeline", headers=api.registrar)
            found = [i["detail"]["stage"] for i in r.json() if i["kind"] == "urging"]
            return found if len(found) == 4 else None

        assert wait_for(stages, timeout=15) == ["reminded", "urged", "supervised", "accountability"]
