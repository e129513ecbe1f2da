"""What every delivery channel shares: the message handed to it, the result it gives back,
the tiny interface it implements, and the HTTP exchange that never outlives its deadline.

A channel's `send` never raises for a delivery failure: a refused connection, a timeout,
a busy provider or a rejected recipient all come back as a `DeliveryResult` whose
`retryable` flag tells the caller whether trying again later can help.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

Outcome = Literal["sent", "delivered", "failed"]

# A provider's reply larger than this is not read: none of ours is more than a few hundred bytes.
MAX_REPLY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Message:
    """One notice for one recipient on one channel.

    `address` is what the channel delivers to: a mobile number (SMS), an e-mail address,
    a subscriber URL (webhook) or a WeChat openid. `data` is the event's context, from
    which template-based channels (SMS, WeChat) fill their template fields.
    """

    address: str
    subject: str
    body: str
    event_id: str
    event_type: str
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one send.

    `sent`: the provider accepted the message and delivers it on its own (SMS, e-mail,
    WeChat); `delivered`: the recipient's own endpoint acknowledged it (webhook);
    `failed`: it did not go out, and `retryable` says whether a later try may succeed.
    """

    outcome: Outcome
    detail: str
    retryable: bool = False
    provider_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    @classmethod
    def failure(cls, detail: str, *, retryable: bool) -> DeliveryResult:
        return cls(outcome="failed", detail=detail, retryable=retryable)


class Channel(Protocol):
    """A delivery channel: synchronous, bounded in time, never raising for a failed delivery."""

    name: str

    def send(self, message: Message) -> DeliveryResult: ...


def retryable_status(status: int) -> bool:
    """HTTP statuses worth trying again: the provider is down, busy or timed out."""
    return status >= 500 or status in (408, 429)


class Deadline:
    """A time budget for one `send`, shared by all the requests it makes."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0


class DeliveryFailed(Exception):
    """Raised inside an adapter to stop at a failure; `send` turns it back into its result."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


def timed_out(what: str, deadline: Deadline) -> DeliveryFailed:
    return DeliveryFailed(
        DeliveryResult.failure(f"{what}超时（{deadline.seconds:g}秒内未完成）", retryable=True)
    )


@dataclass(frozen=True)
class HttpReply:
    status: int
    content: bytes

    def json_object(self) -> dict[str, Any] | None:
        """The reply as a JSON object, or None when it is not one."""
        try:
            value = json.loads(self.content)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def exchange(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    deadline: Deadline,
    what: str,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpReply:
    """Make one HTTP request and read its whole reply before the deadline.

    httpx's timeouts bound each connect, write and read; the deadline bounds the sum,
    including a reply that trickles in. Transport failures raise `DeliveryFailed`
    (retryable); any HTTP status comes back for the caller to judge.
    """
    remaining = deadline.remaining()
    if remaining <= 0:
        raise timed_out(what, deadline)
    chunks: list[bytes] = []
    size = 0
    try:
        with client.stream(
            method, url, content=content, headers=headers, timeout=httpx.Timeout(remaining)
        ) as response:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise DeliveryFailed(
                        DeliveryResult.failure(f"{what}的应答过长，已放弃读取", retryable=True)
                    )
                if deadline.expired():
                    raise timed_out(what, deadline)
            status = response.status_code
    except httpx.TimeoutException as exc:
        raise timed_out(what, deadline) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        # A wrong address stays wrong: trying again cannot help.
        raise DeliveryFailed(
            DeliveryResult.failure(f"{what}的地址无效：{exc}", retryable=False)
        ) from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(
            DeliveryResult.failure(
                f"{what}连接失败：{type(exc).__name__} {exc}".strip(), retryable=True
            )
        ) from exc
    return HttpReply(status=status, content=b"".join(chunks))
