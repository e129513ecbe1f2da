"""Notify throughput: deliveries per second from the dispatcher to a local webhook
receiver, and the share of the time spent outside the network call (claiming,
recording, signing: the gateway's own overhead). One run per backend, fresh
migrated database each; the receiver answers 204 at once on 127.0.0.1.

    make bench        (or: .venv/bin/python -m bench.notify [--notices N] [--backend B])
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.databases import postgres_database, postgres_reachable, sqlite_database
from notify_gateway.addressing import WEBHOOK
from notify_gateway.channels.base import DeliveryResult, Message
from notify_gateway.channels.webhook import WebhookChannel
from notify_gateway.config import NotifySettings
from notify_gateway.dispatcher import Dispatcher
from notify_gateway.models import Notice
from notify_gateway.service import offer_to_subscribers, subscribe
from services.migrate import upgrade
from shared.db import make_engine, make_session_factory, transaction
from shared.directory import load_directory_file, load_snapshot
from shared.egress import EgressPolicy
from shared.events import PETITION_REPLIED, Envelope
from shared.security import DataProtector
from shared.visibility import record_scope

N_NOTICES = 2_000
DEMO_FILE = Path(__file__).resolve().parent.parent / "shared" / "demo" / "qinghe_county.json"
BUREAU = "qinghe.petition_bureau"


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind nginx
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with _Receiver.lock:
            _Receiver.received += 1
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/events"
    finally:
        server.shutdown()
        server.server_close()


class TimedWebhook(WebhookChannel):
    """The webhook channel, with the time inside `send` (sign + HTTP) added up."""

    network = 0.0

    def send(self, message: Message) -> DeliveryResult:
        started = time.perf_counter()
        try:
            return super().send(message)
        finally:
            TimedWebhook.network += time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    backend: str
    notices: int
    seconds: float
    network_seconds: float

    @property
    def per_second(self) -> float:
        return self.notices / self.seconds

    @property
    def outside_share(self) -> float:
        return 1 - self.network_seconds / self.seconds


def measure(backend: str, url: str, n: int) -> Run:
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    protector = DataProtector(b"bench-secret-key-not-for-production")
    with transaction(factory) as session:
        load_directory_file(session, DEMO_FILE)
    with receiver() as endpoint, transaction(factory) as session:
        directory = load_snapshot(session)
        # the county's petition bureau subscribes: it sees every petition of its county
        sub, secret = subscribe(
            session,
            protector=protector,
            owner_unit=BUREAU,
            owner_system=None,
            url=endpoint,
            event_types=[PETITION_REPLIED],
            created_by="bench",
        )
        for i in range(n):
            record_scope(
                session,
                petition_id=f"p{i}",
                type="complaint",
                division_code="990101100201",
                accused=None,
                registered_unit=BUREAU,
                source_system=None,
                directory=directory,
            )
            event = Envelope(
                type=PETITION_REPLIED,
                source="/xinfang/casework",
                subject=f"p{i}",
                data={"petition_id": f"p{i}", "status": "replied", "title": "工地拖欠农民工工资"},
            )
            offer_to_subscribers(session, event, directory)
    settings = NotifySettings(batch=100, send_timeout_seconds=5)
    # the receiver is on loopback, which only the allow-list opens
    dispatcher = Dispatcher(
        factory, {}, settings, protector, EgressPolicy.from_setting(["127.0.0.1"])
    )
    TimedWebhook.network = 0.0
    with receiver() as endpoint:
        with transaction(factory) as session:
            for notice in session.query(Notice):
                notice.address = endpoint
        dispatcher._webhooks[sub.id] = TimedWebhook(secret=secret, timeout=5)
        _Receiver.received = 0
        started = time.perf_counter()
        while dispatcher.run_once(WEBHOOK):
            pass
        seconds = time.perf_counter() - started
    with factory() as session:
        delivered = session.query(Notice).filter(Notice.state == "delivered").count()
    engine.dispose()
    assert delivered == n == _Receiver.received, (delivered, n, _Receiver.received)
    return Run(backend, n, seconds, TimedWebhook.network)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=N_NOTICES)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    runs: list[Run] = []
    if args.backend in ("sqlite", "both"):
        with sqlite_database() as url:
            runs.append(measure("SQLite", url, args.notices))
    if args.backend in ("postgres", "both"):
        if postgres_reachable():
            with postgres_database() as url:
                runs.append(measure("PostgreSQL", url, args.notices))
        else:
            print("PostgreSQL unreachable on 127.0.0.1:5432: skipped")
    print(f"\nnotify → local webhook receiver, {args.notices} notices, one dispatcher worker")
    print(f"{'backend':<12}{'seconds':>10}{'deliveries/s':>15}{'outside network':>18}")
    for run in runs:
        print(
            f"{run.backend:<12}{run.seconds:>10.2f}{run.per_second:>15.0f}"
            f"{run.outside_share:>17.0%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
