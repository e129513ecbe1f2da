"""What every service's HTTP layer shares: the session, authentication, health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.errors import ProblemError
from shared.security import Principal, authenticate


def session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.factory
    return factory


def get_session(request: Request) -> Iterator[Session]:
    """A request-scoped session; the use case commits, anything else rolls back."""
    session = session_factory(request)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]

_UNAUTHENTICATED = {"WWW-Authenticate": 'Bearer realm="xinfang"'}


def _principal(request: Request, *, allow_system: bool) -> Principal:
    factory = session_factory(request)
    header = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key")
    with factory() as session:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ProblemError(
                    401, "Authorization 头须为 Bearer <令牌>", headers=_UNAUTHENTICATED
                )
            principal = authenticate(session, token.strip(), "token")
            if principal is None:
                raise ProblemError(401, "令牌无效或已吊销", headers=_UNAUTHENTICATED)
            return principal
        if api_key:
            if not allow_system:
                raise ProblemError(403, "此接口仅限工作人员使用，外部系统的 API Key 无权访问")
            principal = authenticate(session, api_key.strip(), "apikey")
            if principal is None:
                raise ProblemError(401, "API Key 无效或已吊销", headers=_UNAUTHENTICATED)
            return principal
    raise ProblemError(
        401, "需要登录：请提供 Authorization: Bearer <令牌>", headers=_UNAUTHENTICATED
    )


def require_staff(*roles: str, allow_system: bool = False) -> Callable[[Request], Principal]:
    """A dependency that admits staff in one of `roles` (any role if none given), and
    external systems too when `allow_system`."""

    def dependency(request: Request) -> Principal:
        principal = _principal(request, allow_system=allow_system)
        if principal.kind == "token" and roles and principal.role not in roles:
            raise ProblemError(
                403, f"角色 {principal.role} 无权执行此操作，需要：{'、'.join(roles)}"
            )
        return principal

    # read by shared.openapi: the operation's security scheme and its 401/403 answers
    dependency.xinfang_auth = AuthNeeds(tuple(roles), allow_system)  # type: ignore[attr-defined]
    return dependency


@dataclass(frozen=True)
class AuthNeeds:
    """What a credential-checking dependency asks for, for the OpenAPI document."""

    roles: tuple[str, ...]
    allow_system: bool


def health_router(
    check_bus: Callable[[], Any], warnings: Callable[[Session], list[str]] | None = None
) -> APIRouter:
    """`/healthz` (the process answers) and `/readyz` (database and bus reachable, and
    what an operator must act on soon, such as a holiday schedule not yet loaded)."""
    router = APIRouter(tags=["运行状态"])

    @router.get("/healthz", summary="进程存活检查")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="就绪检查：数据库与消息总线可达")
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        notes: list[str] = []
        try:
            factory = session_factory(request)

            def ping() -> list[str]:
                with factory() as session:
                    session.execute(text("SELECT 1"))
                    return warnings(session) if warnings else []

            notes = await asyncio.to_thread(ping)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            checks["bus"] = "ok" if await check_bus() else "unreachable"
        except Exception as exc:
            checks["bus"] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks, "warnings": notes},
            status_code=200 if ready else 503,
        )

    return router
