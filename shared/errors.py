"""RFC 9457 problem details, for every error the API returns.

Messages are Chinese and readable by an official; `errors[].field` is a
machine-readable path such as `petitioners.0.phone`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

TITLES: dict[int, str] = {
    400: "请求有误",
    401: "未认证或凭据无效",
    403: "无权执行此操作",
    404: "资源不存在",
    405: "不支持的请求方法",
    409: "与当前状态冲突",
    413: "请求体过大",
    415: "不支持的内容类型",
    422: "提交的内容未通过校验",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


def title_for(status: int) -> str:
    if status in TITLES:
        return TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "错误"


class FieldError(dict[str, str]):
    """One `{field, message}` entry of a validation problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field=field, message=message)


def is_unique_violation(exc: IntegrityError) -> bool:
    """A duplicate key (PostgreSQL SQLSTATE 23505, SQLite's UNIQUE or PRIMARY KEY
    constraint): what losing a race to insert the same thing looks like. Other
    integrity errors (a null, a foreign key) are bugs, not races."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    message = str(exc.orig)
    return message.startswith(("UNIQUE constraint failed", "PRIMARY KEY must be unique"))


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        title: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or title_for(status)
        self.errors = errors
        self.headers = headers
        self.extra = extra or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        if self.errors is not None:
            doc["errors"] = list(self.errors)
        # extension members add to the standard ones, never replace them
        doc.update({k: v for k, v in self.extra.items() if k not in doc})
        return doc


def validation_problem(errors: list[FieldError], detail: str | None = None) -> ProblemError:
    return ProblemError(
        422,
        detail or "；".join(f"{e['field']}：{e['message']}" for e in errors),
        errors=errors,
    )


def not_found(what: str) -> ProblemError:
    return ProblemError(404, f"{what}不存在")


def problem_response(problem: ProblemError, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


# --- pydantic's errors in Chinese ------------------------------------------------

_PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": "必填项，不能为空",
    "string_type": "应为文本",
    "string_too_short": "内容太短或为空",
    "string_too_long": "内容过长（最多 {max_length} 个字符）",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "literal_error": "取值无效，可选：{expected}",
    "enum": "取值无效，可选：{expected}",
    "list_type": "应为列表",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "extra_forbidden": "不认识的字段",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "datetime_type": "应为带时区的时间（ISO-8601）",
    "datetime_parsing": "应为带时区的时间（ISO-8601）",
    "datetime_from_date_parsing": "应为带时区的时间（ISO-8601）",
    "timezone_aware": "时间须带时区（如 +08:00）",
    "json_invalid": "请求体不是合法的 JSON",
    "json_type": "请求体不是合法的 JSON",
    "uuid_parsing": "应为 UUID",
    "uuid_type": "应为 UUID",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "int_from_float": "应为整数（不能有小数）",
    "url_type": "应为网址",
    "url_parsing": "应为网址（如 https://example.gov.cn/path）",
    "url_syntax_violation": "网址格式不正确",
    "url_scheme": "网址须以 {expected_schemes} 开头",
    "url_too_long": "网址过长（最多 {max_length} 个字符）",
}


def pydantic_errors_to_fields(errors: Any, *, drop_location: bool = True) -> list[FieldError]:
    """Turn pydantic's error list into `{field, message}` entries with Chinese messages."""
    fields: list[FieldError] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if drop_location and loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            where = loc[0]
            loc = loc[1:]
            if not loc:
                loc = [where]
        kind = err.get("type", "")
        # a body that is not JSON at all: pydantic places it at a character offset
        field = "body" if kind.startswith("json_") else ".".join(loc) or "body"
        # choices as pydantic lists them ("'a' or 'b'"), in Chinese
        ctx = {
            k: v.replace(" or ", "、") if isinstance(v, str) else v
            for k, v in (err.get("ctx") or {}).items()
        }
        if kind == "value_error" and "error" in ctx:
            # Our own validators raise ValueError with a Chinese message.
            message = str(ctx["error"])
        elif kind in _PYDANTIC_MESSAGES:
            try:
                message = _PYDANTIC_MESSAGES[kind].format(**ctx)
            except (KeyError, IndexError):
                message = _PYDANTIC_MESSAGES[kind]
        else:
            message = f"取值无效（{err.get('msg', kind)}）"
        fields.append(FieldError(field, message))
    return fields


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app can produce becomes a problem document."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = pydantic_errors_to_fields(exc.errors())
        return problem_response(validation_problem(fields), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        if status == 404:
            detail = f"找不到 {request.url.path}"
        elif status == 405:
            detail = f"{request.url.path} 不支持 {request.method} 方法"
        elif status == 400:
            # FastAPI's own "There was an error parsing the body", among others
            detail = "请求体无法解析：请以 UTF-8 编码的 JSON 提交，并与 Content-Type 一致"
        else:
            detail = str(exc.detail) if exc.detail else title_for(status)
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(ProblemError(status, detail, headers=headers), request.url.path)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        if not is_unique_violation(exc):
            return await _unexpected(request, exc)  # a broken rule of ours: a bug, logged
        # Two requests raced for the same thing (a double tap, two clerks at once): the
        # loser changed nothing and may try again (Retry-After: an idempotent replay
        # must not keep this answer).
        logging.getLogger("xinfang.errors").warning(
            "request lost a race on %s: %s", request.url.path, exc.orig
        )
        return problem_response(
            ProblemError(
                409,
                "该操作与同时提交的另一操作冲突，未作任何更改，请刷新后重试",
                headers={"Retry-After": "1"},
            ),
            request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("xinfang.errors").exception("unhandled error on %s", request.url.path)
        return problem_response(
            ProblemError(500, "服务器内部错误，已记录，请稍后重试"), request.url.path
        )
