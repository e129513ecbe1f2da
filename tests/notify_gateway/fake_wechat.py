"""A fake WeChat server API: access tokens and subscribe messages, checked as WeChat does.

It issues tokens only for the right appid and secret, refuses unknown (40001) and
expired (42001) tokens, and checks the body's shape: touser, a known template_id and
`data` as {key: {"value": str}} with `thing` values of at most 20 characters (47003).
Openids in `refused` answer 43101. Extra mode: `busy` answers errcode -1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tests.notify_gateway.loopback import FakeProvider


@dataclass
class ReceivedSubscribeMessage:
    touser: str
    template_id: str
    page: str | None
    data: dict[str, str]
    body: dict[str, Any]


def _json(payload: dict[str, Any], status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"Content-Type": "application/json; encoding=utf-8"},
        json.dumps(payload).encode(),
    )


def _error(errcode: int, errmsg: str) -> tuple[int, dict[str, str], bytes]:
    return _json({"errcode": errcode, "errmsg": f"{errmsg} rid: 6630a1b2-1f2e3d4c-5b6a7980"})


class FakeWeChat(FakeProvider):
    def __init__(self, appid: str, secret: str, template_ids: set[str]) -> None:
        super().__init__()
        self.appid = appid
        self.secret = secret
        self.template_ids = template_ids
        self.expires_in = 7200
        self.refused: set[str] = set()
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        self.received: list[ReceivedSubscribeMessage] = []
        self.errcodes: list[int] = []

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 42001, as after its two hours."""
        self.valid_tokens.clear()

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if method == "GET" and path == "/cgi-bin/token":
            return self._token(params)
        if method == "POST" and path == "/cgi-bin/message/subscribe/send":
            status, reply_headers, reply = self._send(params, body)
            self.errcodes.append(json.loads(reply)["errcode"])
            return status, reply_headers, reply
        return 404, {}, b"not found"

    def _token(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if params.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if params.get("appid") != self.appid:
            return _error(40013, "invalid appid")
        if params.get("secret") != self.secret:
            return _error(40125, "invalid appsecret")
        if self.mode == "busy":
            return _error(-1, "system error")
        token = f"88_fake-token-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        self.valid_tokens.add(token)
        return _json({"access_token": token, "expires_in": self.expires_in})

    def _send(self, params: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        token = params.get("access_token", "")
        if token not in self.tokens_issued:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if token not in self.valid_tokens:
            return _error(42001, "access_token expired")
        if self.mode == "busy":
            return _error(-1, "system error")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(47001, "data format error")
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not isinstance(touser, str) or not touser:
            return _error(40003, "invalid openid")
        if template_id not in self.template_ids:
            return _error(40037, "invalid template_id")
        if not isinstance(data, dict) or not data:
            return _error(47003, "argument invalid! data is empty")
        values: dict[str, str] = {}
        for key, item in data.items():
            if not (isinstance(item, dict) and set(item) == {"value"}):
                return _error(47003, f"argument invalid! data.{key} must be {{value}}")
            value = item["value"]
            if not isinstance(value, str) or not value:
                return _error(47003, f"argument invalid! data.{key}.value invalid")
            if key.startswith("thing") and len(value) > 20:
                return _error(47003, f"argument invalid! data.{key}.value exceeds limit")
            values[key] = value
        page = body.get("page")
        if page is not None and not isinstance(page, str):
            return _error(41030, "invalid page")
        if touser in self.refused:
            return _error(43101, "user refuse to accept the msg")
        self.received.append(ReceivedSubscribeMessage(touser, template_id, page, values, body))
        return _json({"errcode": 0, "errmsg": "ok", "msgid": 3_000_000_000 + len(self.received)})
