"""The OpenAPI document, completed with what FastAPI cannot see by itself: how each
operation authenticates (a staff bearer token, an external system's API key) and
the problem documents (RFC 9457) it can answer with — 401 and 403 where it takes
credentials, 404 where its path names something, 409 where it changes something,
413/422 where it reads a body, 429 where the public rate limit counts it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from shared.errors import PROBLEM_JSON, title_for
from shared.web import AuthNeeds

DOCS_STATIC = "/docs-static"
STAFF_SCHEME = "StaffToken"
SYSTEM_SCHEME = "ApiKey"
SECURITY_SCHEMES = {
    STAFF_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "工作人员令牌：xinfang token create --unit 单位 --role 角色",
    },
    SYSTEM_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "外部系统的 API Key：xinfang apikey create --system 系统 --jurisdiction 区划",
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details；校验错误在 errors 中逐字段列出",
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}
DESCRIPTIONS = {
    401: "未提供凭据，或令牌、API Key 无效或已吊销",
    403: "凭据有效，但其角色或辖区无权执行此操作",
    404: "不存在，或调用者无权知道它存在",
    409: "与当前状态冲突（或同一 Idempotency-Key 对应不同的请求）；可能带 allowed_steps",
    413: "请求体过大",
    422: "提交的内容未通过校验：errors 逐项列出字段与原因",
    429: "请求过于频繁，Retry-After 给出需等待的秒数",
}


def _auth_of(dependant: Dependant) -> AuthNeeds | None:
    for sub in dependant.dependencies:
        needs = getattr(sub.call, "xinfang_auth", None)
        if isinstance(needs, AuthNeeds):
            return needs
        found = _auth_of(sub)
        if found is not None:
            return found
    return None


def _problem(status: int, example_detail: str | None = None) -> dict[str, Any]:
    example = {
        "type": "about:blank",
        "title": title_for(status),
        "status": status,
        "detail": example_detail or DESCRIPTIONS[status],
    }
    return {
        "description": DESCRIPTIONS[status],
        "content": {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}, "example": example}
        },
    }


def _statuses(route: APIRoute, method: str, public: bool, needs: AuthNeeds | None) -> set[int]:
    out: set[int] = set()
    if needs is not None:
        out |= {401, 403}
    if "{" in route.path:
        out.add(404)
    if method != "get":
        out |= {409, 413}
    if route.dependant.body_params or route.dependant.query_params or "{" in route.path:
        out.add(422)
    if public:
        out.add(429)
    return out


def install_openapi(app: FastAPI, is_public: Callable[[str, str], bool]) -> None:
    """Replace `app.openapi` with one that documents security and problem answers.
    `is_public(method, path)` says whether the public rate limit counts an operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = doc.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for route in _api_routes(app.routes):
            needs = _auth_of(route.dependant)
            for method in route.methods or ():
                method = method.lower()
                operation = doc["paths"].get(route.path_format, {}).get(method)
                if operation is None:
                    continue
                if needs is not None:
                    operation["security"] = [{STAFF_SCHEME: []}] + (
                        [{SYSTEM_SCHEME: []}] if needs.allow_system else []
                    )
                public = is_public(method.upper(), _sample_path(route.path_format))
                responses = operation.setdefault("responses", {})
                for status in sorted(_statuses(route, method, public, needs)):
                    key = str(status)
                    if key in responses and PROBLEM_JSON in responses[key].get("content", {}):
                        continue
                    given = responses.get(key, {})
                    responses[key] = {
                        **_problem(status),
                        "description": given.get("description", DESCRIPTIONS[status]),
                    }
                # FastAPI's own 422 says application/json with its HTTPValidationError
                if "422" in responses:
                    responses["422"]["content"] = _problem(422)["content"]
                    if responses["422"].get("description") == "Validation Error":
                        responses["422"]["description"] = DESCRIPTIONS[422]
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc` from files shipped in a package, not a CDN: a
    government intranet reaches no CDN, and its pages must still open."""
    static = Path(fastapi_offline.__file__).with_name("static")
    app.mount(DOCS_STATIC, StaticFiles(directory=static), name="docs-static")
    title = f"{app.title} · 接口文档"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=title,
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=title,
            redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        )


def _api_routes(routes: Iterable[Any]) -> list[APIRoute]:
    return [r for r in routes if isinstance(r, APIRoute) and r.include_in_schema]


def _sample_path(path: str) -> str:
    """`/api/v1/qr/{token}` → `/api/v1/qr/x`: a path the rate limit's rules can match."""
    return re.sub(r"\{[^}]+\}", "x", path)
