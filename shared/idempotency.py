"""`Idempotency-Key` (API.md): the same key with the same body returns the first
response; with a different body, 409. Pure ASGI around the app.

A key belongs to (method, path, caller): the scope is hashed from those and the
key. The record's unique constraint, not code, decides which of two concurrent
requests runs; the other sees it in progress (409) or, later, its response.
A 5xx is not kept, so a client may retry after a server error.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy import Integer, LargeBinary, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shared.db import Base, UTCDateTime, transaction
from shared.errors import FieldError, ProblemError, validation_problem
from shared.limits import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    replay,
    send_problem,
)
from shared.timeutil import utcnow

KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
KEEP = timedelta(hours=24)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope_hash: Mapped[str] = mapped_column(String(64), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: in progress
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


class Idempotency:
    def __init__(self, app: ASGIApp, factory: sessionmaker[Session]) -> None:
        self.app = app
        self.factory = factory

    def _claim(self, scope_hash: str, request_hash: str) -> IdempotencyRecord | None:
        """Insert our record; None if we own it now, else the record that was there."""
        now = utcnow()
        with transaction(self.factory) as session:
            # A record older than a day no longer binds its key.
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.scope_hash == scope_hash,
                    IdempotencyRecord.created_at < now - KEEP,
                )
            )
        try:
            with transaction(self.factory) as session:
                session.add(
                    IdempotencyRecord(
                        scope_hash=scope_hash, request_hash=request_hash, created_at=now
                    )
                )
            return None
        except IntegrityError:
            with self.factory() as session:
                return session.scalar(
                    select(IdempotencyRecord).where(IdempotencyRecord.scope_hash == scope_hash)
                )

    def _complete(self, scope_hash: str, status: int, content_type: str, body: bytes) -> None:
        with transaction(self.factory) as session:
            record = session.scalar(
                select(IdempotencyRecord).where(IdempotencyRecord.scope_hash == scope_hash)
            )
            if record is None:
                return
            if status >= 500:
                session.delete(record)  # let the client try again
                return
            record.status = status
            record.content_type = content_type
            record.body = body
            record.completed_at = utcnow()

    def _forget(self, scope_hash: str) -> None:
        with transaction(self.factory) as session:
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.scope_hash == scope_hash)
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        if not KEY.fullmatch(key):
            problem = validation_problem(
                [FieldError("Idempotency-Key", "须为 1 至 200 个可见 ASCII 字符")]
            )
            await send_problem(send, problem, path)
            return
        body = await read_body(receive)
        caller = (header(scope, b"authorization") or header(scope, b"x-api-key") or "").encode()
        scope_hash = _sha(scope["method"].encode(), str(path).encode(), caller, key.encode())
        request_hash = _sha(body)
        existing = await asyncio.to_thread(self._claim, scope_hash, request_hash)
        if existing is not None:
            if existing.request_hash != request_hash:
                detail = "同一 Idempotency-Key 已用于内容不同的请求"
                await send_problem(send, ProblemError(409, detail), path)
            elif existing.status is None:
                detail = "同一 Idempotency-Key 的请求正在处理，请稍后重试"
                await send_problem(send, ProblemError(409, detail), path)
            else:
                await self._replay(send, existing)
            return
        captured: dict[str, object] = {"status": 500, "type": "", "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        captured["type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks = captured["body"]
                assert isinstance(chunks, list)
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay(body, receive), capture)
        except BaseException:
            await asyncio.to_thread(self._forget, scope_hash)
            raise
        chunks = captured["body"]
        assert isinstance(chunks, list)
        await asyncio.to_thread(
            self._complete,
            scope_hash,
            int(str(captured["status"])),
            str(captured["type"]),
            b"".join(chunks),
        )

    @staticmethod
    async def _replay(send: Send, record: IdempotencyRecord) -> None:
        body = record.body or b""
        headers = [
            (b"content-type", (record.content_type or "application/json").encode()),
            (b"content-length", str(len(body)).encode()),
            (b"idempotent-replayed", b"true"),
        ]
        await send({"type": "http.response.start", "status": record.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
