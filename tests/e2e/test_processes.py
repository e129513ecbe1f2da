"""End to end with real processes: `xinfang serve` over HTTP, killed with SIGKILL.

1. Distributed: PostgreSQL + NATS JetStream, the five services as five processes,
   routing killed -9 mid-stream, restarted, then run as two replicas; every
   petition is routed exactly once and told exactly once.
2. Embedded: SQLite, one process with every service; fast, ordered timeline;
   survives a kill -9 right after submitting.
3. An unreachable bus is reported clearly (exit non-zero, or /readyz 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from tests.conftest import DEMO_FILE, TEST_SECRET, load_demo, make_token
from tests.e2e.procs import ProcessManager, run_cli
from tests.helpers import petition, wait_for

pytestmark = pytest.mark.e2e

UNIT = "qinghe.petition_bureau"
SERVICES = ("intake", "routing", "scheduler", "notify", "casework")
ROUTED = "cn.xinfang.petition.routed"
SHUTDOWN_GRACE = 10.0
RECOVERY_LIMIT_SECONDS = 20.0


def settings_env(
    database_url: str, bus_url: str = "embedded://", prefix: str = ""
) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "EVENT_BUS_URL": bus_url,
        "EVENT_ACK_WAIT_SECONDS": "2",
        "EVENT_RETRY_BASE_SECONDS": "0.2",
        "OUTBOX_POLL_SECONDS": "0.05",
        # The tests submit from one address and one phone far faster than people do.
        "RATE_IP_PER_MINUTE": "100000",
        "RATE_PHONE_PER_HOUR": "100000",
        # A relay killed mid-batch holds its rows this long before another relay retakes them.
        "OUTBOX_LEASE_SECONDS": "3",
        "XINFANG_SECRET_KEY": TEST_SECRET,
    }
    if prefix:
        env["EVENT_BUS_PREFIX"] = prefix
    return env


@pytest.fixture
def managers(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], ProcessManager]]:
    """Make process managers; every process any of them started is stopped at teardown."""
    made: list[ProcessManager] = []

    def make(env: dict[str, str]) -> ProcessManager:
        pm = ProcessManager(tmp_path / "logs", env)
        made.append(pm)
        return pm

    yield make
    for pm in made:
        pm.stop_all()


# --- HTTP -----------------------------------------------------------------------------


def submit(client: httpx.Client, intake_url: str, title: str) -> str:
    # Each from another person: the same person's same matter would (rightly) be
    # declined as a repeat, and these tests are about delivery, not repeats.
    person = {"name": "张三", "phone": f"139{zlib.crc32(title.encode()) % 100_000_000:08d}"}
    r = client.post(
        f"{intake_url}/api/v1/petitions", json=petition(title=title, petitioners=[person])
    )
    assert r.status_code == 201, f"submitting {title!r}: {r.status_code} {r.text}"
    body = r.json()
    assert body["status"] == "received" and body["id"] and body["query_code"], body
    return str(body["id"])


def submit_burst(client: httpx.Client, intake_url: str, titles: list[str]) -> list[str]:
    """Submit concurrently, so the consumers have a backlog when the test strikes."""
    with ThreadPoolExecutor(max_workers=len(titles)) as pool:
        return list(pool.map(lambda t: submit(client, intake_url, t), titles))


def routed_record(client: httpx.Client, casework_url: str, pid: str) -> dict[str, Any] | None:
    """The casework record once it is routed and has its forwarding deadline, else None."""
    r = client.get(f"{casework_url}/api/v1/petitions/{pid}")
    if r.status_code == 404:
        return None  # not projected yet
    assert r.status_code == 200, f"GET petition {pid}: {r.status_code} {r.text}"
    record: dict[str, Any] = r.json()
    routing = record.get("routing") or {}
    steps = [d["step"] for d in record.get("deadlines") or []]
    if routing.get("decision") and "forward" in steps:
        return record
    return None


def notices_of(client: httpx.Client, notify_url: str, pid: str) -> list[dict[str, Any]]:
    r = client.get(f"{notify_url}/api/v1/notices", params={"petition_id": pid})
    assert r.status_code == 200, f"GET notices {pid}: {r.status_code} {r.text}"
    return list(r.json())


def wait_all_routed(
    client: httpx.Client, casework_url: str, ids: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}

    def probe() -> bool:
        for pid in ids:
            if pid not in done and (record := routed_record(client, casework_url, pid)):
                done[pid] = record
        return len(done) == len(ids)

    try:
        wait_for(probe, timeout=timeout, interval=0.2)
    except AssertionError:
        missing = [pid for pid in ids if pid not in done]
        raise AssertionError(
            f"{len(missing)} of {len(ids)} petitions not routed with a forward deadline "
            f"within {timeout}s: {missing[:5]}"
        ) from None
    return done


def wait_notices(
    client: httpx.Client, notify_url: str, records: dict[str, dict[str, Any]], timeout: float
) -> dict[str, list[dict[str, Any]]]:
    """Wait until each petition has its receipt and the notice of where it went, and its
    new-case notice when it has a lead unit."""
    got: dict[str, list[dict[str, Any]]] = {}

    def probe() -> bool:
        for pid, record in records.items():
            if pid in got:
                continue
            notices = notices_of(client, notify_url, pid)
            kinds = {n["kind"] for n in notices}
            wanted = {"receipt", "routed"} | (
                {"new_case"} if record["routing"].get("lead_unit") else set()
            )
            if wanted <= kinds:
                got[pid] = notices
        return len(got) == len(records)

    try:
        wait_for(probe, timeout=timeout, interval=0.2)
    except AssertionError:
        missing = [pid for pid in records if pid not in got]
        raise AssertionError(
            f"notices missing for {len(missing)} petitions: {missing[:5]}"
        ) from None
    return got


# --- the database ---------------------------------------------------------------------


def db_counts(url: str, ids: list[str]) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:

            def per_petition(sql: str, **params: Any) -> dict[str, int]:
                return {str(r[0]): int(r[1]) for r in conn.execute(text(sql), params)}

            return {
                "decisions": per_petition(
                    "SELECT petition_id, count(*) FROM routing_decision GROUP BY petition_id"
                ),
                "rounds": sorted(
                    {int(r[0]) for r in conn.execute(text("SELECT round FROM routing_decision"))}
                ),
                "routed_events": per_petition(
                    "SELECT subject, count(*) FROM outbox_event WHERE type = :t GROUP BY subject",
                    t=ROUTED,
                ),
                "receipts": per_petition(
                    "SELECT petition_id, count(*) FROM notice WHERE kind = 'receipt' GROUP BY petition_id"
                ),
                "new_cases": per_petition(
                    "SELECT petition_id, count(*) FROM notice WHERE kind = 'new_case' GROUP BY petition_id"
                ),
                "forward_deadlines": per_petition(
                    "SELECT petition_id, count(*) FROM deadline WHERE step = 'forward' GROUP BY petition_id"
                ),
                "petitions": int(conn.execute(text("SELECT count(*) FROM petition")).scalar_one()),
                "unpublished": int(
                    conn.execute(
                        text("SELECT count(*) FROM outbox_event WHERE published_at IS NULL")
                    ).scalar_one()
                ),
                "dead_letters": [
                    tuple(r)
                    for r in conn.execute(
                        text("SELECT consumer, event_type, error FROM dead_letter")
                    )
                ],
            }
    finally:
        engine.dispose()


def assert_exactly_once(
    counts: dict[str, Any], ids: list[str], records: dict[str, dict[str, Any]]
) -> None:
    want = dict.fromkeys(ids, 1)
    assert counts["petitions"] == len(ids), (
        f"{counts['petitions']} petitions stored, {len(ids)} submitted"
    )
    assert counts["decisions"] == want, f"routing_decision rows per petition: {counts['decisions']}"
    assert counts["rounds"] == [1], f"routing rounds seen: {counts['rounds']}"
    assert counts["routed_events"] == want, (
        f"petition.routed outbox rows: {counts['routed_events']}"
    )
    assert counts["receipts"] == want, f"receipt notices per petition: {counts['receipts']}"
    with_lead = {pid: 1 for pid, r in records.items() if r["routing"].get("lead_unit")}
    assert counts["new_cases"] == with_lead, f"new_case notices per petition: {counts['new_cases']}"
    assert counts["forward_deadlines"] == want, f"forward deadlines: {counts['forward_deadlines']}"
    assert counts["dead_letters"] == [], f"dead letters: {counts['dead_letters']}"


def leased_outbox_rows(url: str) -> int:
    """Unpublished outbox rows a relay has claimed and whose lease has not run out yet."""
    from shared.db import make_engine
    from shared.events import OutboxEvent
    from shared.timeutil import utcnow

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(OutboxEvent.available_at).where(
                    OutboxEvent.published_at.is_(None), OutboxEvent.dead_at.is_(None)
                )
            ).scalars()
            now = utcnow()
            return sum(1 for at in rows if at > now)
    finally:
        engine.dispose()


def wait_outbox_drained(url: str, timeout: float) -> None:
    def drained() -> bool:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return not conn.execute(
                    text("SELECT count(*) FROM outbox_event WHERE published_at IS NULL")
                ).scalar_one()
        finally:
            engine.dispose()

    try:
        wait_for(drained, timeout=timeout, interval=0.25)
    except AssertionError:
        raise AssertionError(f"outbox still has unpublished rows after {timeout}s") from None


# --- NATS -----------------------------------------------------------------------------


def stream_names(nats_url: str, prefix: str) -> tuple[str, str]:
    from shared.bus.nats import NatsTransport

    t = NatsTransport(nats_url, prefix=prefix)
    return t.stream, t.dlq_stream


async def _nats(nats_url: str, action: Callable[[Any], Any]) -> Any:
    import nats

    nc = await nats.connect(nats_url, connect_timeout=3, allow_reconnect=False)
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


def nats_consumers(nats_url: str, prefix: str) -> dict[str, tuple[int, int, int]]:
    """Each durable of this prefix: (not yet delivered, delivered but unacked, redelivered)."""
    stream, _ = stream_names(nats_url, prefix)

    async def action(js: Any) -> dict[str, tuple[int, int, int]]:
        return {
            c.name: (c.num_pending or 0, c.num_ack_pending or 0, c.num_redelivered or 0)
            for c in await js.consumers_info(stream)
        }

    return asyncio.run(_nats(nats_url, action))  # type: ignore[no-any-return]


def nats_busy_consumers(nats_url: str, prefix: str) -> dict[str, tuple[int, int, int]]:
    """Durables with messages not yet delivered or not yet acked."""
    return {n: c for n, c in nats_consumers(nats_url, prefix).items() if c[0] or c[1]}


@pytest.fixture
def nats_streams(nats_url: str, bus_prefix: str) -> Iterator[None]:
    """Delete this test's streams afterwards; they would otherwise live for 30 days."""
    yield

    async def action(js: Any) -> None:
        from nats.js.errors import NotFoundError

        for name in stream_names(nats_url, bus_prefix):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)

    asyncio.run(_nats(nats_url, action))


# --- 1. distributed ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.nats
def test_distributed_five_processes_route_each_petition_exactly_once(
    pg_url: str,
    nats_url: str,
    bus_prefix: str,
    nats_streams: None,
    managers: Callable[[dict[str, str]], ProcessManager],
) -> None:
    load_demo(pg_url)
    token = make_token(pg_url, UNIT, "registrar")
    pm = managers(settings_env(pg_url, nats_url, bus_prefix))

    procs = {name: pm.start(name, wait=False) for name in SERVICES}
    for proc in procs.values():
        pm.wait_ready(proc)
    intake, casework, notify = procs["intake"].url, procs["casework"].url, procs["notify"].url

    ids: list[str] = []
    with httpx.Client(timeout=10.0) as client:
        ids += submit_burst(client, intake, [f"分布式测试 {i:02d}" for i in range(10)])
        pm.kill9(procs["routing"])
        assert procs["routing"].popen.returncode == -9
        at_kill = {
            n: c for n, c in nats_consumers(nats_url, bus_prefix).items() if n.startswith("routing")
        }
        for i in range(10, 25):
            ids.append(submit(client, intake, f"分布式测试 {i:02d}"))
        # The same command again (a new port); then a second replica beside it.
        routing_a = pm.start("routing", name="routing-restarted")
        for i in range(25, 32):
            ids.append(submit(client, intake, f"分布式测试 {i:02d}"))
        routing_b = pm.start("routing", name="routing-replica")
        for i in range(32, 40):
            ids.append(submit(client, intake, f"分布式测试 {i:02d}"))
        assert len(set(ids)) == 40

        client.headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        records = wait_all_routed(client, casework, ids, timeout=60)
        settled = time.monotonic() - started
        notices = wait_notices(client, notify, records, timeout=20)

        # Quiet: the outbox is fully published and no NATS consumer holds anything back,
        # so a late redelivery cannot add a row after we count.
        wait_outbox_drained(pg_url, timeout=45)
        wait_for(lambda: not nats_busy_consumers(nats_url, bus_prefix), timeout=20, interval=0.25)
        quiet = time.monotonic() - started
        routing_after = {
            n: c for n, c in nats_consumers(nats_url, bus_prefix).items() if n.startswith("routing")
        }
        print(
            f"distributed: routing consumer (pending, unacked, redelivered) at the kill {at_kill}, "
            f"at the end {routing_after}; all routed {settled:.1f}s after the last submission, "
            f"quiet after {quiet:.1f}s"
        )
        # A lease held by the killed relay is retaken after OUTBOX_LEASE_SECONDS.
        assert quiet < RECOVERY_LIMIT_SECONDS, f"{quiet:.1f}s until routed and drained"

        for pid, record in records.items():
            assert record["status"] == "routed", record
            assert record["routing"]["reasons"], record["routing"]
            kinds = [n["kind"] for n in notices[pid]]
            assert kinds.count("receipt") == 1, (pid, kinds)
        listed = client.get(f"{casework}/api/v1/petitions", params={"limit": 200})
        assert listed.status_code == 200, listed.text
        assert sorted(p["id"] for p in listed.json()) == sorted(ids)

    running = [procs[s] for s in ("intake", "scheduler", "notify", "casework")]
    running += [routing_a, routing_b]
    for proc in running:
        assert proc.alive(), proc.describe()
    assert_exactly_once(db_counts(pg_url, ids), ids, records)

    # A graceful stop (SIGTERM, as `docker stop` and Kubernetes send) must finish well
    # within the usual 10 s grace period, or every deploy ends in SIGKILL.
    took = pm.terminate(running, grace=SHUTDOWN_GRACE)
    slow = sorted(name for name, t in took.items() if t is None)
    assert not slow, (
        f"still running {SHUTDOWN_GRACE}s after SIGTERM: {slow} (exit times {took}); "
        f"log of {slow[0]}:\n{next(p for p in running if p.name == slow[0]).log_tail(8)}"
    )


# --- 2. embedded ------------------------------------------------------------------------


def _at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["at"])


def test_embedded_single_process_flow(
    sqlite_url: str, managers: Callable[[dict[str, str]], ProcessManager]
) -> None:
    env = settings_env(sqlite_url)
    pm = managers(env)
    cli_env = {**pm.env}
    loaded = json.loads(run_cli(["directory", "load", str(DEMO_FILE)], cli_env))
    assert loaded, loaded
    token = run_cli(["token", "create", "--unit", UNIT, "--role", "registrar"], cli_env).strip()
    assert token and "\n" not in token

    proc = pm.start()  # every service in one process
    ids: list[str] = []
    latencies: list[float] = []
    with httpx.Client(timeout=10.0, headers={"Authorization": f"Bearer {token}"}) as client:
        for i in range(5):
            started = time.monotonic()
            pid = submit(client, proc.url, f"嵌入式测试 {i}")
            ids.append(pid)
            wait_for(partial(routed_record, client, proc.url, pid), timeout=5, interval=0.02)
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 5, f"submit → routed with deadline took {latencies}"

        for pid in ids:

            def full_timeline(pid: str = pid) -> list[dict[str, Any]] | None:
                r = client.get(f"{proc.url}/api/v1/petitions/{pid}/timeline")
                assert r.status_code == 200, r.text
                items: list[dict[str, Any]] = r.json()
                kinds = [t["kind"] for t in items]
                # receipt, routed and new-case notices all reach the timeline
                # and three clock lines: forwarding opened and met, acceptance opened
                if kinds.count("deadline") >= 3 and kinds.count("notice") >= 3:
                    return items
                return None

            items = wait_for(full_timeline, timeout=5, interval=0.05)
            kinds = [t["kind"] for t in items]
            times = [_at(t) for t in items]
            assert times == sorted(times), f"timeline not in time order: {items}"
            assert kinds[0] == "received", kinds
            first = {k: kinds.index(k) for k in ("received", "routed", "deadline")}
            assert first["received"] < first["routed"] < first["deadline"], kinds
            assert kinds.count("received") == kinds.count("routed") == 1, kinds
            assert kinds.count("deadline") == 3, kinds
            assert kinds.count("notice") == 3, kinds

        # Five more, then SIGKILL straight away: no shutdown, whatever was in flight is cut.
        ids += submit_burst(client, proc.url, [f"嵌入式测试 {i}" for i in range(5, 10)])
        pm.kill9(proc)
        cut = db_counts(sqlite_url, ids)
        in_flight = (
            cut["unpublished"],
            leased_outbox_rows(sqlite_url),
            len(ids) - len(cut["forward_deadlines"]),
        )

        restarted = pm.start(name="all-restarted")
        started = time.monotonic()
        records = wait_all_routed(client, restarted.url, ids, timeout=45)
        recovery = time.monotonic() - started
        notices = wait_notices(client, restarted.url, records, timeout=10)
        wait_outbox_drained(sqlite_url, timeout=45)
        for pid in ids:
            kinds = sorted(n["kind"] for n in notices_of(client, restarted.url, pid))
            assert kinds == ["new_case", "receipt", "routed"], (pid, kinds, notices[pid])

    assert restarted.alive(), restarted.describe()
    assert_exactly_once(db_counts(sqlite_url, ids), ids, records)
    took = pm.terminate([restarted], grace=SHUTDOWN_GRACE)
    assert took[restarted.name] is not None, f"ignores SIGTERM; {restarted.describe()}"
    print(
        f"embedded: submit→routed {[round(x, 3) for x in latencies]}s; at the kill "
        f"{in_flight[0]} outbox rows unpublished ({in_flight[1]} of them leased by the dead "
        f"relay), {in_flight[2]} petitions without deadline; "
        f"recovered {recovery:.1f}s after restart"
    )
    # Embedded, the restarted process releases the dead relay's leases at once.
    assert recovery < 5, f"embedded restart took {recovery:.1f}s to route what was in flight"


# --- 3. an unreachable bus ----------------------------------------------------------------


def test_readyz_reports_unreachable_bus(
    sqlite_url: str, managers: Callable[[dict[str, str]], ProcessManager]
) -> None:
    """Nothing listens on port 1: the process must say so — either exit non-zero with a
    readable error, or serve /readyz with 503 and the bus marked unreachable. Hanging in
    start-up (neither) leaves orchestrators and operators guessing."""
    pm = managers(settings_env(sqlite_url, "nats://127.0.0.1:1", "xfunreachable"))
    proc = pm.start("intake", wait=False)
    deadline = time.monotonic() + 12
    outcome: str | None = None
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                outcome = "exited"
                break
            try:
                r = client.get(f"{proc.url}/readyz")
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            outcome = "served"
            break
    print(f"unreachable bus: outcome {outcome!r}, log tail:\n{proc.log_tail(5)}")
    try:
        if outcome == "exited":
            assert proc.popen.returncode != 0, proc.describe()
            log = proc.log_tail(200)
            assert "127.0.0.1:1" in log or "nats" in log.lower(), proc.describe()
        elif outcome == "served":
            assert r.status_code == 503, f"/readyz {r.status_code} {r.text} with no bus"
            body = r.json()
            assert body["status"] == "not ready", body
            assert body["checks"]["bus"].startswith("unreachable"), body
            assert body["checks"]["database"] == "ok", body
            assert httpx.get(f"{proc.url}/healthz", timeout=2).status_code == 200
            assert "nats://127.0.0.1:1" in proc.log_tail(200), proc.describe()
            # Still trying to connect in the background, it must yet stop when asked to.
            took = pm.terminate([proc], grace=SHUTDOWN_GRACE)
            assert took[proc.name] is not None, f"ignores SIGTERM; {proc.describe()}"
        else:
            raise AssertionError(
                "with EVENT_BUS_URL=nats://127.0.0.1:1 the process neither exited nor served "
                "/readyz within 12 s (it hangs in application start-up, retrying the "
                f"connection forever); {proc.describe()}"
            )
    finally:
        if proc.alive():
            pm.kill9(proc)
