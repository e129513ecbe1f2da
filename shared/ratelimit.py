"""Rate limits on the public endpoints that create or read by query code: per client
IP and per phone number, sliding windows, 429 with Retry-After.

In memory, per process: each replica counts for itself (the proxy in front can add
a global limit). The client IP is the socket peer, or the first X-Forwarded-For
entry when the peer is a trusted proxy.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

from shared.errors import ProblemError
from shared.limits import ASGIApp, Receive, Scope, Send, header, read_body, replay, send_problem

# (method, path pattern): what a petitioner or a stranger can call without credentials.
PUBLIC_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"^/api/v1/petitions$")),
    ("POST", re.compile(r"^/api/v1/qr/[^/]+/petitions$")),
    ("GET", re.compile(r"^/api/v1/qr/[^/]+$")),
    ("GET", re.compile(r"^/api/v1/track/")),
    ("POST", re.compile(r"^/api/v1/track/")),
)


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float


class SlidingWindow:
    """Counts events per key over the last `seconds`; thread-safe."""

    def __init__(self, window: Window, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = Lock()

    def hit(self, key: str) -> float:
        """Record a hit; 0 if allowed, else the seconds until the next one would be."""
        now = self.clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window.seconds:
                hits.popleft()
            if len(hits) >= self.window.limit:
                return hits[0] + self.window.seconds - now
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle keys rather than grow forever
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return 0.0


def phones_in(body: bytes) -> set[str]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return set()
    people = doc.get("petitioners") if isinstance(doc, dict) else None
    found = set()
    for person in people if isinstance(people, list) else []:
        phone = person.get("phone") if isinstance(person, dict) else None
        if isinstance(phone, str):
            digits = re.sub(r"\D", "", phone)[-11:]
            if digits:
                found.add(digits)
    return found


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        per_ip: Window,
        per_phone: Window,
        trusted_proxies: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.ip = SlidingWindow(per_ip, clock)
        self.phone = SlidingWindow(per_phone, clock)
        self.trusted_proxies = trusted_proxies

    def client_ip(self, scope: Scope) -> str:
        peer = (scope.get("client") or ("unknown", 0))[0]
        forwarded = header(scope, b"x-forwarded-for")
        if forwarded and peer in self.trusted_proxies:
            return forwarded.split(",")[0].strip()
        return str(peer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            scope["method"] == method and pattern.match(scope["path"])
            for method, pattern in PUBLIC_RULES
        ):
            await self.app(scope, receive, send)
            return
        wait = self.ip.hit(f"ip:{self.client_ip(scope)}")
        phones: set[str] = set()
        if scope["method"] == "POST" and scope["path"].endswith("/petitions"):
            # Submissions also count per phone, so one number cannot flood from many IPs.
            body = await read_body(receive)
            receive = replay(body, receive)
            phones = phones_in(body)
        for phone in sorted(phones):
            wait = max(wait, self.phone.hit(f"phone:{phone}"))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            problem = ProblemError(
                429, f"请求过于频繁，请 {seconds} 秒后再试", headers={"Retry-After": str(seconds)}
            )
            await send_problem(send, problem, scope.get("path"))
            return
        await self.app(scope, receive, send)
