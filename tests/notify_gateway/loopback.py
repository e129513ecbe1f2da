"""A real HTTP server on 127.0.0.1, in a thread, for the channel tests' fake providers.

The port is the one the OS hands out for port 0, so it is free. Each fake has modes:
`ok`, `down` (503 to everything), `slow` (holds the reply until the test ends) and
`trickle` (sends the reply a byte at a time, too slowly to finish), and subclasses add
their own.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SLOW_HOLD_SECONDS = 10.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow reply leaves a broken pipe: that is the test.
        pass


class FakeProvider:
    """Subclasses implement `handle(method, path, query, headers, body)`, which returns
    (status, headers, body); request header names arrive in lower case."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.release = threading.Event()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append((self.command, self.path))
                if fake.mode == "slow":
                    fake.release.wait(SLOW_HOLD_SECONDS)
                if fake.mode == "trickle":
                    self._trickle()
                    return
                if fake.mode == "down":
                    status, headers, reply = 503, {"Content-Type": "text/plain"}, b"down"
                else:
                    parts = urlsplit(self.path)
                    with fake._lock:
                        status, headers, reply = fake.handle(
                            self.command,
                            parts.path,
                            parts.query,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _trickle(self) -> None:
                # Headers at once, then a byte every 50 ms: no single read ever times out.
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    if fake.release.wait(0.05):
                        break
                    try:
                        self.wfile.write(b" ")
                    except OSError:
                        break
                self.close_connection = True

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running(fake: FakeProvider) -> Iterator[FakeProvider]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (the OS just handed it out and it was closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
