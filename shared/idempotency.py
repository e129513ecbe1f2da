"""`Idempotency-Key` (API.md): the same key with the same body returns the first
response; with a different body, 409. Pure ASGI around the app, for POST.

- The key is 1 to 200 printable ASCII characters (space to `~`); otherwise 422
  with the field `Idempotency-Key`.
- A key belongs to (method, path, caller): the scope is hashed from those, the
  caller's `Authorization` / `X-Api-Key` header (or nothing, anonymous) and the
  key, so two callers never see each other's responses. The request is the
  sha256 of the raw body.
- The record's unique constraint, not code, decides which of two concurrent
  requests runs; the other sees it in progress (409) or, later, its response
  (status, body and content type, with `Idempotent-Replayed: true`).
- Every completed response is kept except a 5xx (or a crash), so a client may
  retry after a server error. A record binds its key for 24 hours; one left
  in progress by a process that died is given up after 10 minutes.

The whole body is read to hash it, so `BodySizeLimit` must run outside this.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Integer, LargeBinary, String, and_, delete, or_, select
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

KEY = re.compile(r"[\x20-\x7e]{1,200}")
KEEP = timedelta(hours=24)
ABANDONED = timedelta(minutes=10)


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


@dataclass
class _Captured:
    """The response as the app sends it, to keep for replays."""

    status: int = 500
    content_type: str = ""
    retry_after: bool = False
    chunks: list[bytes] = field(default_factory=list)

    def take(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    self.content_type = value.decode("latin-1")
                elif name.lower() == b"retry-after":
                    self.retry_after = True
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))


class Idempotency:
    def __init__(self, app: ASGIApp, factory: sessionmaker[Session]) -> None:
        self.app = app
        self.factory = factory

    def _claim(self, scope_hash: str, request_hash: str) -> int | IdempotencyRecord:
        """Insert our record and return its id, or return the record already there."""
        for _ in range(3):
            now = utcnow()
            with transaction(self.factory) as session:
                # A record older than a day no longer binds its key, nor one that a
                # dead process left in progress.
                session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.scope_hash == scope_hash,
                        or_(
                            IdempotencyRecord.created_at < now - KEEP,
                            and_(
                                IdempotencyRecord.status.is_(None),
                                IdempotencyRecord.created_at < now - ABANDONED,
                            ),
                        ),
                    )
                )
            try:
                with transaction(self.factory) as session:
                    mine = IdempotencyRecord(
                        scope_hash=scope_hash, request_hash=request_hash, created_at=now
                    )
                    session.add(mine)
                    session.flush()
                    return mine.id
            except IntegrityError:
                with self.factory() as session:
                    existing = session.scalar(
                        select(IdempotencyRecord).where(IdempotencyRecord.scope_hash == scope_hash)
                    )
                if existing is not None:
                    return existing
                # The winner failed (5xx) and let go in between: try to claim again.
        raise RuntimeError("idempotency record could not be claimed")

    def _complete(
        self, record_id: int, status: int, content_type: str, body: bytes, *, keep: bool
    ) -> None:
        with transaction(self.factory) as session:
            record = session.get(IdempotencyRecord, record_id)
            if record is None:  # given up as abandoned meanwhile
                return
            if not keep:
                session.delete(record)  # let the client try again
                return
            record.status = status
            record.content_type = content_type
            record.body = body
            record.completed_at = utcnow()

    def _forget(self, record_id: int) -> None:
        with transaction(self.factory) as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        if not KEY.fullmatch(key):
            problem = validation_problem(
                [FieldError("Idempotency-Key", "须为 1 至 200 个可打印 ASCII 字符（不含汉字）")]
            )
            await send_problem(send, problem, path)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away before the body was complete
        caller = "\n".join(
            header(scope, name) or "" for name in (b"authorization", b"x-api-key")
        ).encode()
        scope_hash = _sha(scope["method"].encode(), str(path).encode(), caller, key.encode())
        request_hash = _sha(body)
        claimed = await asyncio.to_thread(self._claim, scope_hash, request_hash)
        if isinstance(claimed, IdempotencyRecord):
            if claimed.request_hash != request_hash:
                detail = (
                    "同一 Idempotency-Key 已用于内容不同的请求；新的请求请换一个 Idempotency-Key"
                )
                await send_problem(send, ProblemError(409, detail), path)
            elif claimed.status is None:
                detail = "同一 Idempotency-Key 的请求正在处理，请稍后重试"
                await send_problem(send, ProblemError(409, detail), path)
            else:
                await self._replay(send, claimed)
            return
        response = _Captured()

        async def capture(message: Message) -> None:
            response.take(message)
            await send(message)

        try:
            await self.app(scope, replay(body, receive), capture)
        except BaseException:
            await asyncio.to_thread(self._forget, claimed)
            raise
        await asyncio.to_thread(
            self._complete,
            claimed,
            response.status,
            response.content_type,
            b"".join(response.chunks),
            # A failure, or an answer that says "try again" (Retry-After: a race lost):
            # kept, it would answer every retry with the same key for a day.
            keep=response.status < 500 and not response.retry_after,
        )

    @staticmethod
    async def _replay(send: Send, record: IdempotencyRecord) -> None:
        body = record.body or b""
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"idempotent-replayed", b"true"),
        ]
        if record.content_type:
            headers.append((b"content-type", record.content_type.encode("latin-1")))
        await send({"type": "http.response.start", "status": record.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
