"""The composition root: reads settings, wires engine, bus, handlers and routers
for the services one process runs. Nothing else reads the environment."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import deadline_scheduler.handlers
import notify_gateway.handlers
import routing_engine.handlers
from deadline_scheduler.config import SchedulerSettings
from deadline_scheduler.router import router as scheduler_router
from deadline_scheduler.timer import start_timer
from intake_api.attachments import AttachmentLimits
from intake_api.config import IntakeSettings
from intake_api.router import router as intake_router
from intake_api.service import RepeatPolicy
from notify_gateway.channels.registry import channels_from, enabled_channels
from notify_gateway.config import NotifySettings
from notify_gateway.dispatcher import Dispatcher
from notify_gateway.router import router as notify_router
from routing_engine.config import RoutingSettings
from routing_engine.router import router as routing_router
from routing_engine.service import load_ruleset
from services.casework import handlers as casework_handlers
from services.casework.router import router as casework_router
from services.reporting import handlers as reporting_handlers
from services.reporting.config import ReportingSettings
from services.reporting.router import router as reporting_router
from shared.bus import Bus, make_transport
from shared.calendar import CalendarCache, unknown_years
from shared.config import Settings
from shared.db import make_engine, make_session_factory
from shared.directory import DirectoryCache
from shared.egress import EgressPolicy
from shared.errors import install_problem_handlers
from shared.idempotency import Idempotency
from shared.limits import BodySizeLimit
from shared.nul_guard import RejectNul
from shared.openapi import install_docs, install_openapi
from shared.ratelimit import RateLimit, Window, rule_for
from shared.security import DataProtector
from shared.storage import LocalStorage
from shared.timeutil import to_china, utcnow
from shared.web import health_router

log = logging.getLogger("xinfang")

SERVICES = ("intake", "routing", "scheduler", "notify", "casework", "reporting")

DESCRIPTION = """
信访事项受理、分办、期限督办与通知的后端服务。

- 信访人通过网页、小程序、扫码、热线、来信、来访提交信访事项；
- 分办规则引擎按“属地管理、分级负责，谁主管、谁负责”等原则确定承办单位，并说明理由；
- 期限调度按《信访工作条例》计算每一环节的办理期限；
- 通知网关把回执与交办通知送达信访人和承办单位。

错误一律以 RFC 9457 problem details（application/problem+json）返回，校验错误逐字段说明原因。
"""


@dataclass
class Runtime:
    """What one process is made of; tests reach in through `app.state.runtime`."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    bus: Bus
    services: tuple[str, ...]


def calendar_warnings(calendars: CalendarCache) -> Callable[[Session], list[str]]:
    """Say loudly when next year's holidays are not known: deadlines running into it
    are counted with weekends only (provisional)."""

    def warn(session: Session) -> list[str]:
        missing = unknown_years(calendars.get(session), to_china(utcnow()).date())
        if missing:
            log.warning(
                "holiday schedule not loaded for %s; deadlines there are provisional", missing
            )
        return [
            f"{year} 年节假日安排尚未载入（xinfang calendar load），跨入该年的期限暂按周末计算"
            for year in missing
        ]

    return warn


def server_config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    """How `xinfang serve` runs an app under uvicorn."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        # The client address is the socket peer: forwarded headers are believed only
        # from TRUSTED_PROXIES, by the rate limit itself, never by uvicorn's default
        # (which believes any X-Forwarded-For sent from 127.0.0.1).
        proxy_headers=False,
        forwarded_allow_ips="",
    )


def build_app(settings: Settings, services: Sequence[str] = SERVICES) -> FastAPI:
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown services {sorted(unknown)}; choose from {', '.join(SERVICES)}")
    services = tuple(s for s in SERVICES if s in services)
    engine = make_engine(settings.db.database_url)
    factory = make_session_factory(engine)
    bus = Bus(factory, make_transport(settings.bus), settings.bus)
    directory = DirectoryCache()
    runtime = Runtime(settings, engine, factory, bus, services)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        if "scheduler" in services:
            # said at start, not only when someone polls /readyz
            with factory() as session:
                calendar_warnings(app.state.calendars)(session)
        timer = (
            start_timer(factory, app.state.calendars, directory, SchedulerSettings().sweep_seconds)
            if "scheduler" in services
            else None
        )
        dispatcher = getattr(app.state, "dispatcher", None)
        if dispatcher is not None:
            dispatcher.start()
        log.info("xinfang serving %s on bus %s", ", ".join(services), bus.transport.name)
        try:
            yield
        finally:
            if timer is not None:
                timer.shutdown(wait=True)
            if dispatcher is not None:
                dispatcher.stop()
            await bus.stop()
            engine.dispose()

    title = (
        "xinfang 信访"
        if len(services) == len(SERVICES)
        else f"xinfang 信访 · {'、'.join(services)}"
    )
    app = FastAPI(
        title=title,
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    install_openapi(app, lambda method, path: rule_for(method, path) is not None)
    install_docs(app)
    # Added last runs first: the size limit sees every byte before anyone buffers it.
    app.add_middleware(RejectNul)
    app.add_middleware(Idempotency, factory=factory)
    limits = settings.limits
    app.add_middleware(
        RateLimit,
        per_ip=Window(limits.rate_ip_per_minute, 60),
        per_phone=Window(limits.rate_phone_per_hour, 3600),
        trusted_proxies=frozenset(
            p.strip() for p in limits.trusted_proxies.split(",") if p.strip()
        ),
    )
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    app.state.runtime = runtime
    app.state.factory = factory
    app.state.directory = directory
    app.state.calendars = CalendarCache()
    app.include_router(health_router(bus.ready, warnings=calendar_warnings(app.state.calendars)))

    if {"intake", "casework", "notify"} & set(services):
        app.state.protector = DataProtector(
            settings.security.secret_key(), settings.security.previous_keys()
        )
    if "intake" in services:
        intake = IntakeSettings()
        app.state.storage = LocalStorage(settings.var_dir / "attachments")
        app.state.attachment_limits = AttachmentLimits(
            max_file_bytes=intake.attachment_max_file_kib * 1024,
            max_total_bytes=intake.attachment_max_total_kib * 1024,
        )
        app.state.repeat_policy = RepeatPolicy(
            threshold=intake.repeat_similarity_threshold, candidates=intake.repeat_candidates
        )
        app.include_router(intake_router)
    if "routing" in services:
        ruleset = load_ruleset(RoutingSettings().ruleset_file)
        app.state.ruleset = ruleset
        routing_engine.handlers.register(bus, ruleset=ruleset, directory=directory)
        app.include_router(routing_router)
    if "scheduler" in services:
        deadline_scheduler.handlers.register(
            bus, calendars=app.state.calendars, directories=directory
        )
        app.include_router(scheduler_router)
    if "notify" in services:
        notify_settings = NotifySettings()
        channels = channels_from(notify_settings)
        app.state.egress = EgressPolicy.from_setting(
            notify_settings.webhook_allowed_hosts.split(",")
        )
        app.state.dispatcher = Dispatcher(
            factory, channels, notify_settings, app.state.protector, app.state.egress
        )
        notify_gateway.handlers.register(
            bus, directories=directory, enabled=enabled_channels(channels)
        )
        app.include_router(notify_router)
    if "casework" in services:
        casework_handlers.register(bus)
        app.include_router(casework_router)
    if "reporting" in services:
        app.state.reporting_settings = ReportingSettings()
        reporting_handlers.register(bus, directories=directory)
        app.include_router(reporting_router)
    return app
