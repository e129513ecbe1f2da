"""Webhooks: the notice POSTed as JSON to a subscriber's URL, signed with a shared secret.

Headers on every request:
    X-Xinfang-Event-Id    the event's id: a receiver de-duplicates on it (a retry repeats it)
    X-Xinfang-Event-Type  the event's type
    X-Xinfang-Timestamp   unix seconds when the request was signed
    X-Xinfang-Signature   "sha256=" + hex HMAC-SHA256(secret, f"{timestamp}.{body}")

The body is signed exactly as sent (UTF-8 bytes). A receiver checks a request with
`verify_signature`, which also refuses a timestamp too far from its own clock, so a
captured request cannot be replayed later.

Any 2xx reply is `delivered`. 410 Gone means the subscriber has gone away: not retried.
Anything else, 4xx included, is retried: the subscriber may fix its side meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from notify_gateway.channels.base import Deadline, DeliveryFailed, DeliveryResult, Message, exchange

NAME = "webhook"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = 300


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The X-Xinfang-Signature header's value for a body signed at `timestamp`."""
    mac = hmac.new(_key(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature_header: str,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Whether a received webhook is authentic and fresh.

    `timestamp` and `signature_header` are the X-Xinfang-Timestamp and
    X-Xinfang-Signature headers as received, `body` the raw request body, `now` the
    receiver's unix time. The timestamp must be within `tolerance` seconds of `now`,
    either way; the comparison of signatures takes constant time.
    """
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    if not signature_header.isascii():
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header)


def payload(message: Message) -> bytes:
    """The request body: the notice and its event, as compact UTF-8 JSON."""
    document = {
        "event_id": message.event_id,
        "event_type": message.event_type,
        "subject": message.subject,
        "body": message.body,
        "data": dict(message.data),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class WebhookChannel:
    """POSTs each message to its subscriber URL (the message's address)."""

    name = NAME

    def __init__(
        self,
        *,
        secret: str | bytes,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        user_agent: str = "xinfang-notify/1",
    ) -> None:
        self._secret = _key(secret)
        self.timeout = timeout
        # Redirects are not followed: a subscriber gives the URL it really serves.
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._clock = clock
        self.user_agent = user_agent

    def close(self) -> None:
        self._client.close()

    def headers(self, message: Message, body: bytes) -> dict[str, str]:
        if not (message.event_id.isascii() and message.event_type.isascii()):
            raise DeliveryFailed(
                DeliveryResult.failure(
                    "事件编号或类型含非 ASCII 字符，无法放入请求头", retryable=False
                )
            )
        timestamp = str(int(self._clock()))
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": self.user_agent,
            "X-Xinfang-Event-Id": message.event_id,
            "X-Xinfang-Event-Type": message.event_type,
            "X-Xinfang-Timestamp": timestamp,
            "X-Xinfang-Signature": signature(self._secret, timestamp, body),
        }

    def send(self, message: Message) -> DeliveryResult:
        deadline = Deadline(self.timeout)
        body = payload(message)
        try:
            headers = self.headers(message, body)
            reply = exchange(
                self._client,
                "POST",
                message.address,
                deadline=deadline,
                what="Webhook 订阅方",
                content=body,
                headers=headers,
            )
        except DeliveryFailed as failed:
            return failed.result
        if 200 <= reply.status < 300:
            return DeliveryResult(
                outcome="delivered", detail=f"订阅方已接收（HTTP {reply.status}）"
            )
        if reply.status == 410:
            return DeliveryResult.failure(
                "订阅方已注销该地址（HTTP 410），不再投递", retryable=False
            )
        return DeliveryResult.failure(f"订阅方返回 HTTP {reply.status}", retryable=True)
