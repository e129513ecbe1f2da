"""Rate limits on the public endpoints (those anyone may call without credentials):
per client IP and per phone number, sliding windows, 429 problem+json with
`Retry-After` (whole seconds).

What is limited is a rule table on method and path (`PUBLIC_RULES`), so staff and
external-system endpoints are never counted. Every public request counts against
its client IP (`LimitSettings.rate_ip_per_minute`). Submissions also count against
each petitioner phone in the JSON body (`petitioners[*].phone`), and tracking
requests against the `phone` query parameter (`LimitSettings.rate_phone_per_hour`
each, kept in separate counters so that following a case never uses up the
right to submit one). Phones are compared as intake normalizes them
(`shared.petition.normalize_phone`), so `+86 138-0013-8000`, `１３８００１３８０００`
and `13800138000` are one phone. A refused request uses up nothing.

The counters live in memory, per process: each replica (and each service process
in the distributed mode) counts for itself, so the effective limit behind N
replicas is up to N times the setting. The reverse proxy in `docker/nginx.conf`
may add a global limit in front.

The client IP is the socket peer (uvicorn is told not to rewrite it from
forwarded headers). `X-Forwarded-For` is believed only when the peer is listed
in `LimitSettings.trusted_proxies` (default: none, since anyone can write that
header); then the client is the nearest address in it that is not itself a
trusted proxy.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from threading import Lock
from urllib.parse import parse_qs

from shared.errors import ProblemError
from shared.limits import ASGIApp, Receive, Scope, Send, header, read_body, replay, send_problem
from shared.petition import normalize_phone

SUBMIT = "submit"
TRACK = "track"
BROWSE = "browse"

# (method, path pattern, kind): what a petitioner or a stranger can call without credentials.
PUBLIC_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/api/v1/petitions/?$"), SUBMIT),
    ("POST", re.compile(r"^/api/v1/qr/[^/]+/petitions/?$"), SUBMIT),
    ("GET", re.compile(r"^/api/v1/qr/[^/]+/?$"), BROWSE),
    ("GET", re.compile(r"^/api/v1/track/"), TRACK),
    ("POST", re.compile(r"^/api/v1/track/"), TRACK),
)


def rule_for(method: str, path: str) -> str | None:
    for rule_method, pattern, kind in PUBLIC_RULES:
        if method == rule_method and pattern.match(path):
            return kind
    return None


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float


class SlidingWindow:
    """Counts events per key over the last `seconds`.

    Not locked by itself: `RateLimit` checks and records several windows under one
    lock, so that a refused request records nothing anywhere.
    """

    SWEEP_EVERY = 10_000  # keys, between sweeps of idle ones

    def __init__(self, window: Window) -> None:
        self.window = window
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._next_sweep = self.SWEEP_EVERY

    def _current(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window.seconds:
            hits.popleft()
        return hits

    def wait(self, key: str, now: float) -> float:
        """0 if one more hit is allowed now, else the seconds until it would be."""
        if self.window.limit <= 0:
            return self.window.seconds
        hits = self._current(key, now)
        if hits is None or len(hits) < self.window.limit:
            return 0.0
        return hits[len(hits) - self.window.limit] + self.window.seconds - now

    def record(self, key: str, now: float) -> None:
        self._hits[key].append(now)
        if len(self._hits) >= self._next_sweep:  # forget idle keys rather than grow forever
            for stale in [k for k in self._hits if not self._current(k, now)]:
                del self._hits[stale]
            self._next_sweep = len(self._hits) + self.SWEEP_EVERY


def phones_in(body: bytes) -> set[str]:
    """The petitioners' phones in a petition body; nothing for a body that is not one."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return set()
    people = doc.get("petitioners") if isinstance(doc, dict) else None
    found = set()
    for person in people if isinstance(people, list) else []:
        phone = person.get("phone") if isinstance(person, dict) else None
        if isinstance(phone, str) and (digits := normalize_phone(phone)):
            found.add(digits)
    return found


def phones_in_query(scope: Scope) -> set[str]:
    query = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(query).get("phone", [])
    return {digits for value in values if (digits := normalize_phone(value))}


class RateLimit:
    """Pure ASGI middleware; install it inside `BodySizeLimit` (which bounds what it reads)."""

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
        self.ip = SlidingWindow(per_ip)
        self.phone = SlidingWindow(per_phone)
        self.trusted_proxies = trusted_proxies
        self.clock = clock
        self._lock = Lock()

    def client_ip(self, scope: Scope) -> str:
        peer = str((scope.get("client") or ("unknown", 0))[0])
        forwarded = header(scope, b"x-forwarded-for")
        if not forwarded or peer not in self.trusted_proxies:
            return peer
        # Each trusted proxy appends the address it saw: walk back from the nearest,
        # and the first one no trusted proxy vouches for is the client. (The first
        # entry is whatever the client chose to write.)
        for hop in reversed([h.strip() for h in forwarded.split(",")]):
            if hop and hop not in self.trusted_proxies:
                return hop
        return peer

    def admit(self, hits: Iterable[tuple[SlidingWindow, str]]) -> float:
        """Records every hit and returns 0, or records none and returns the wait."""
        hits = list(hits)
        with self._lock:
            now = self.clock()
            wait = max((window.wait(key, now) for window, key in hits), default=0.0)
            if wait <= 0:
                for window, key in hits:
                    window.record(key, now)
            return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = rule_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        hits = [(self.ip, f"ip:{self.client_ip(scope)}")]
        if kind == SUBMIT:
            # Submissions also count per phone, so one number cannot flood from many IPs.
            body = await read_body(receive)
            if body is None:
                return  # the client went away
            receive = replay(body, receive)
            hits += [(self.phone, f"submit:{p}") for p in sorted(phones_in(body))]
        elif kind == TRACK:
            hits += [(self.phone, f"track:{p}") for p in sorted(phones_in_query(scope))]
        wait = self.admit(hits)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            problem = ProblemError(
                429,
                f"请求过于频繁，请 {seconds} 秒后再试",
                headers={"Retry-After": str(seconds)},
            )
            await send_problem(send, problem, scope.get("path"))
            return
        await self.app(scope, receive, send)
