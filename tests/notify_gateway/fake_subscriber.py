"""A webhook subscriber as a county's own system would write one: it checks each request
with `verify_signature` and keeps one copy per event id, however often it is delivered.

Extra modes: `gone` answers 410, `reject` answers 400.
"""

from __future__ import annotations

import json
import time
from typing import Any

from notify_gateway.channels.webhook import verify_signature
from tests.notify_gateway.loopback import FakeProvider


class FakeSubscriber(FakeProvider):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.events: dict[str, dict[str, Any]] = {}  # event id -> payload, first copy only
        self.duplicates = 0
        self.refused = 0
        self.headers_seen: list[dict[str, str]] = []

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method != "POST" or path != "/hooks/xinfang":
            return 404, {}, b""
        if self.mode == "gone":
            return 410, {}, b""
        if self.mode == "reject":
            return 400, {}, b"bad request"
        self.headers_seen.append(headers)
        if not verify_signature(
            self.secret,
            headers.get("x-xinfang-timestamp", ""),
            body,
            headers.get("x-xinfang-signature", ""),
            now=time.time(),
        ):
            self.refused += 1
            return 401, {}, b"bad signature"
        event_id = headers.get("x-xinfang-event-id", "")
        if event_id in self.events:
            self.duplicates += 1
            return 200, {}, b"duplicate ignored"
        self.events[event_id] = json.loads(body)
        return 202, {}, b"accepted"
