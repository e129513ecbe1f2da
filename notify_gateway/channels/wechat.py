"""WeChat mini-program subscribe messages (订阅消息), to a petitioner who subscribed.

Two calls of the WeChat server API:
    GET  {base}/cgi-bin/token?grant_type=client_credential&appid=..&secret=..
         -> {"access_token": "...", "expires_in": 7200}
    POST {base}/cgi-bin/message/subscribe/send?access_token=..
         {"touser": openid, "template_id": .., "page": .., "data": {"thing1": {"value": ..}}}
         -> {"errcode": 0, "errmsg": "ok", "msgid": ...}

The token is kept until shortly before it expires; when WeChat says it is invalid or
expired (40001, 42001) it is fetched anew once and the message sent again. A
subscription is good for one message: 43101 (the user refused, or used up what they
subscribed to) is final; -1 (system busy) is retried.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from notify_gateway.channels.base import (
    Deadline,
    DeliveryFailed,
    DeliveryResult,
    Message,
    exchange,
    retryable_status,
    timed_out,
)

NAME = "wechat"
DEFAULT_BASE_URL = "https://api.weixin.qq.com"

TOKEN_INVALID = frozenset({40001, 40014, 42001})  # invalid credential / token, token expired
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011})  # system busy, API quota reached
# How many characters a field takes, by the key's type prefix ("thing1" -> "thing").
FIELD_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "letter": 32, "number": 32}


@dataclass(frozen=True)
class SubscribeTemplate:
    """One event type's subscribe-message template.

    `fields` maps the template's keys to keys of the message's `data`, e.g.
    {"thing1": "title", "character_string2": "query_code"}. `page` is the mini-program
    page the message opens, formatted with the data, e.g. "pages/case?code={query_code}".
    """

    template_id: str
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    page: str | None = None


def field_value(key: str, value: Any) -> str:
    """A data value as the template field takes it: text, cut to the field's limit."""
    text = str(value)
    limit = FIELD_LIMITS.get(key.rstrip("0123456789"))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def template_data(fields: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The `data` object of the send request. Raises KeyError for a value not in `data`."""
    return {key: {"value": field_value(key, data[source])} for key, source in fields.items()}


class _Token:
    def __init__(self, value: str, expires_at: float) -> None:
        self.value = value
        self.expires_at = expires_at


class WeChatSubscribeChannel:
    """Sends subscribe messages for one mini-program (appid)."""

    name = NAME

    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        templates: Mapping[str, SubscribeTemplate],
        base_url: str = DEFAULT_BASE_URL,
        miniprogram_state: str | None = None,
        timeout: float = 5.0,
        token_margin: float = 300.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`templates` maps an event type to its template; `miniprogram_state` is
        "developer", "trial" or "formal" (WeChat's default); `timeout` bounds one send,
        token included; the token is renewed `token_margin` seconds before it expires."""
        self.appid = appid
        self._secret = secret
        self.templates = dict(templates)
        self.base_url = base_url.rstrip("/")
        self.miniprogram_state = miniprogram_state
        self.timeout = timeout
        self.token_margin = token_margin
        self._client = client or httpx.Client(timeout=timeout)
        self._clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def _fetch_token(self, deadline: Deadline) -> _Token:
        query = urlencode(
            {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret}
        )
        reply = exchange(
            self._client,
            "GET",
            f"{self.base_url}/cgi-bin/token?{query}",
            deadline=deadline,
            what="微信 access_token 接口",
        )
        answer = reply.json_object()
        if reply.status != 200 or answer is None:
            raise DeliveryFailed(
                DeliveryResult.failure(
                    f"微信 access_token 接口返回 HTTP {reply.status}",
                    retryable=retryable_status(reply.status) or reply.status == 200,
                )
            )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            errcode = answer.get("errcode")
            raise DeliveryFailed(
                DeliveryResult.failure(
                    f"获取微信 access_token 失败：{errcode} {answer.get('errmsg', '')}".rstrip(),
                    retryable=errcode in RETRYABLE_ERRCODES,
                )
            )
        expires_in = answer.get("expires_in")
        if not isinstance(expires_in, int | float) or expires_in <= 0:
            expires_in = 7200  # what WeChat documents, should a reply omit it
        margin = min(self.token_margin, expires_in / 2)
        return _Token(token, self._clock() + expires_in - margin)

    def _access_token(self, deadline: Deadline, *, stale: str | None = None) -> str:
        """The cached token, or a new one if there is none, it expired, or it is `stale`."""
        # One fetch at a time (each fetch invalidates the token before it), but a send
        # waits for another's fetch no longer than its own deadline.
        if not self._lock.acquire(timeout=max(deadline.remaining(), 0)):
            raise timed_out("等待微信 access_token", deadline)
        try:
            token = self._token
            if token is None or token.value == stale or self._clock() >= token.expires_at:
                token = self._token = self._fetch_token(deadline)
            return token.value
        finally:
            self._lock.release()

    def request_body(self, message: Message) -> dict[str, Any]:
        template = self.templates.get(message.event_type)
        if template is None:
            raise DeliveryFailed(
                DeliveryResult.failure(
                    f"没有为事件类型 {message.event_type} 配置微信订阅消息模板", retryable=False
                )
            )
        try:
            body: dict[str, Any] = {
                "touser": message.address,
                "template_id": template.template_id,
                "data": template_data(template.fields, message.data),
            }
            if template.page:
                body["page"] = template.page.format_map(message.data)
        except KeyError as exc:
            raise DeliveryFailed(
                DeliveryResult.failure(f"订阅消息缺少模板字段的值：{exc}", retryable=False)
            ) from exc
        except (IndexError, ValueError) as exc:
            raise DeliveryFailed(
                DeliveryResult.failure(f"订阅消息的页面路径模板有误：{exc}", retryable=False)
            ) from exc
        if self.miniprogram_state:
            body["miniprogram_state"] = self.miniprogram_state
        body["lang"] = "zh_CN"
        return body

    def _post(self, body: bytes, token: str, deadline: Deadline) -> dict[str, Any]:
        reply = exchange(
            self._client,
            "POST",
            f"{self.base_url}/cgi-bin/message/subscribe/send?{urlencode({'access_token': token})}",
            deadline=deadline,
            what="微信订阅消息接口",
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        answer = reply.json_object()
        if reply.status != 200 or answer is None or not isinstance(answer.get("errcode", 0), int):
            raise DeliveryFailed(
                DeliveryResult.failure(
                    f"微信订阅消息接口返回 HTTP {reply.status}，应答无法识别",
                    retryable=retryable_status(reply.status) or reply.status == 200,
                )
            )
        return answer

    def send(self, message: Message) -> DeliveryResult:
        deadline = Deadline(self.timeout)
        try:
            body = json.dumps(self.request_body(message), ensure_ascii=False).encode()
            token = self._access_token(deadline)
            answer = self._post(body, token, deadline)
            if answer.get("errcode", 0) in TOKEN_INVALID:
                token = self._access_token(deadline, stale=token)
                answer = self._post(body, token, deadline)
        except DeliveryFailed as failed:
            return failed.result
        errcode = answer.get("errcode", 0)
        if errcode == 0:
            msgid = answer.get("msgid")
            return DeliveryResult(
                outcome="sent",
                detail="微信已受理订阅消息",
                provider_id=str(msgid) if msgid is not None else None,
            )
        errmsg = answer.get("errmsg", "")
        if errcode == 43101:
            detail = f"用户未订阅或已拒收该消息：{errcode} {errmsg}"
        else:
            detail = f"微信拒绝订阅消息：{errcode} {errmsg}"
        return DeliveryResult.failure(
            detail.rstrip(),
            retryable=errcode in RETRYABLE_ERRCODES or errcode in TOKEN_INVALID,
        )
