"""No NUL characters in what the API stores or looks up.

PostgreSQL text cannot hold U+0000 and refuses the whole statement, so a NUL in a
path segment, a query parameter or a JSON string would otherwise end as a 500 deep
in a handler. This middleware answers such a request at once, before anything is
read or written: a path with a NUL names nothing (404); a query parameter or JSON
field with one is a 422 naming it. SQLite behaves the same way.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import FieldError, ProblemError, validation_problem
from shared.limits import header, read_body, replay, send_problem

NUL = "\x00"
ESCAPED = "\\u0000"
MESSAGE = f"不能包含空字符（{ESCAPED}）"


def nul_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) in parsed JSON holding a NUL."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            shown = str(key).replace(NUL, ESCAPED)  # the field name itself stays clean
            where = f"{path}.{shown}" if path else shown
            if NUL in str(key):
                return where
            found = nul_field(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_field(item, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


def _query_field(query_string: bytes) -> str | None:
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if NUL in key or NUL in value:
            return key.replace(NUL, ESCAPED)
    return None


def _is_json(content_type: str | None) -> bool:
    """FastAPI reads a body without a content type as JSON, too."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


class RejectNul:
    """422 for a NUL in the path, a query parameter or a JSON body's strings."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if NUL in path:
            # no resource has a NUL in its name: the path names nothing
            shown = path.replace(NUL, ESCAPED)
            await send_problem(send, ProblemError(404, f"找不到 {shown}"), shown)
            return
        field = _query_field(scope["query_string"])
        if field is None and _is_json(header(scope, b"content-type")):
            body = await read_body(receive)
            if body is None:
                return  # the client went away
            receive = replay(body, receive)
            # In UTF-8 a NUL can only be in a JSON string as the escape \u0000 (a raw
            # one is not valid JSON); UTF-16 and UTF-32 bodies, which the app decodes
            # too, are full of zero bytes: parse those to see.
            if b"\\u0000" in body or b"\x00" in body:
                try:
                    field = nul_field(json.loads(body))
                except ValueError:
                    field = None
        if field is not None:
            problem = validation_problem([FieldError(field, MESSAGE)])
            await send_problem(send, problem, scope.get("path"))
            return
        await self.app(scope, receive, send)
