"""Request bodies: a size limit for every request (413), and helpers for middleware
that must read a body and still hand it to the app.

Pure ASGI, so that an oversized body is refused while it streams in, before it is
buffered: by Content-Length when the client declares it, else by counting.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from shared.errors import PROBLEM_JSON, ProblemError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def size_text(n: int) -> str:
    """`1 MiB（1048576 字节）`, `64 KiB（65536 字节）`, `100 字节`."""
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}（{n} 字节）"
    return f"{n} 字节"


def too_large(limit: int, declared: int | None = None) -> str:
    told = f"，本次声明 {declared} 字节" if declared is not None else ""
    return f"请求体不能超过 {size_text(limit)}{told}；请压缩或减少附件后重新提交"


class BodyTooLarge(HTTPException):
    """Raised from `receive`; FastAPI lets HTTPExceptions through its body parsing,
    and the problem handlers turn it into a 413 document."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def send_problem(send: Send, problem: ProblemError, instance: str | None = None) -> None:
    body = json.dumps(problem.body(instance), ensure_ascii=False).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    for key, value in (problem.headers or {}).items():
        headers.append((key.lower().encode(), value.encode()))
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body (already bounded by `BodySizeLimit` outside), or None
    when the client went away before sending all of it: a cut-off body must never
    reach the app as if it were complete."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then waits as the original."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


class BodySizeLimit:
    """Refuses request bodies over `max_bytes` with 413 problem+json.

    A declared Content-Length over the limit is refused before a byte is read; a
    chunked (or lying) body is counted as it arrives and cut off at the first chunk
    that passes the limit, so at most `max_bytes` plus one chunk is ever held.
    Install it outermost: whatever reads bodies inside (rate limits, idempotency)
    then reads bounded bodies. Responses pass through untouched (streaming too).
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            problem = ProblemError(413, too_large(self.max_bytes, int(declared)))
            await send_problem(send, problem, scope.get("path"))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:
            # Raised outside FastAPI's handlers (e.g. read by another middleware).
            if started:
                raise  # too late for a 413; the server closes the connection
            await send_problem(send, ProblemError(413, str(exc.detail)), scope.get("path"))
