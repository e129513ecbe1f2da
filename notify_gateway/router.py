"""The notify gateway's HTTP endpoints: every notice and its delivery state, the
re-drive of a dead one, the staff inbox, webhook subscriptions, template previews."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from jinja2 import UndefinedError
from sqlalchemy import select

from notify_gateway.channels.sms_aliyun import sms_segments
from notify_gateway.handlers import WEBHOOK_EVENT_TYPES
from notify_gateway.models import Notice, WebhookSubscription
from notify_gateway.schemas import (
    NoticeRead,
    PreviewIn,
    PreviewRead,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionRead,
)
from notify_gateway.service import redrive, subscribe
from notify_gateway.templates import TEMPLATE_DIR, render
from shared.directory import Directory, UnitRow
from shared.errors import FieldError, ProblemError, validation_problem
from shared.security import ExternalSystem, Principal
from shared.timeutil import to_china, utcnow
from shared.visibility import barred_petitions, owns_county_powers, visible_petitions
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["通知"])
Overseer = Annotated[Principal, Depends(require_staff("registrar", "supervisor", "admin"))]
Admin = Annotated[Principal, Depends(require_staff("admin"))]
State = Literal["pending", "sent", "delivered", "failed", "dead"]


def _read(n: Notice) -> NoticeRead:
    return NoticeRead(
        id=n.id,
        petition_id=n.petition_id,
        kind=n.kind,
        channel=n.channel,
        recipient=n.recipient,
        subject=n.subject,
        body=n.body,
        stage=n.stage,
        state=n.state,
        attempts=n.attempts,
        urgent=n.urgent,
        last_error=n.last_error,
        created_at=to_china(n.created_at),
        sent_at=to_china(n.sent_at) if n.sent_at else None,
        delivered_at=to_china(n.delivered_at) if n.delivered_at else None,
        next_attempt_at=to_china(n.next_attempt_at) if n.next_attempt_at else None,
    )


@router.get(
    "/notices",
    response_model=list[NoticeRead],
    summary="通知及其送达状态：按信访事项，或按状态（如 dead 待人工重发）",
)
def list_notices(
    request: Request,
    session: SessionDep,
    who: Overseer,
    petition_id: Annotated[
        str | None, Query(min_length=1, max_length=36, description="信访事项编号")
    ] = None,
    state: Annotated[State | None, Query(description="送达状态")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[NoticeRead]:
    if petition_id is None and state is None:
        raise validation_problem(
            [FieldError("petition_id", "请指定信访事项编号 petition_id 或送达状态 state")]
        )
    directory = request.app.state.directory.get(session)
    query = (
        select(Notice)
        .where(Notice.petition_id.in_(visible_petitions(who, directory)))
        .order_by(Notice.id)
        .limit(limit)
    )
    if petition_id is not None:
        query = query.where(Notice.petition_id == petition_id)
    if state is not None:
        query = query.where(Notice.state == state)
    return [_read(n) for n in session.scalars(query)]


@router.post(
    "/notices/{notice_id}/redrive",
    response_model=NoticeRead,
    summary="重发一条发送失败或已放弃（dead）的通知",
)
def post_redrive(
    request: Request,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff("supervisor", "admin"))],
    notice_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="通知编号")],
) -> NoticeRead:
    directory = request.app.state.directory.get(session)
    notice = redrive(session, notice_id, utcnow(), who, directory)
    session.commit()
    return _read(notice)


@router.get("/inbox", response_model=list[NoticeRead], summary="本单位、本角色收到的站内通知")
def get_inbox(
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff())],
    unread: Annotated[bool, Query(description="只看未读")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NoticeRead]:
    mine = [f"unit:{who.unit_id}", f"unit:{who.unit_id}:{who.role}"]
    query = (
        select(Notice)
        .where(
            Notice.channel == "inbox",
            Notice.recipient.in_(mine),
            # never a report's notice to a unit barred from it (arts. 30, 46)
            Notice.petition_id.notin_(barred_petitions(who.unit_id or "")),
        )
        .order_by(Notice.id.desc())
        .limit(limit)
    )
    if unread:
        query = query.where(Notice.read_at.is_(None))
    rows = list(session.scalars(query))
    now = utcnow()
    for n in rows:
        n.read_at = n.read_at or now
    session.commit()
    return [_read(n) for n in rows]


@router.post(
    "/webhook-subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="其他政府系统订阅事件推送（管理员）；签名密钥只在此返回一次",
)
def post_subscription(
    request: Request,
    session: SessionDep,
    who: Admin,
    body: Annotated[
        SubscriptionIn,
        Body(
            openapi_examples={
                "12345 热线": {
                    "value": {
                        "system": "hotline-12345",
                        "url": "https://12345.example.gov.cn/xinfang/events",
                        "event_types": ["cn.xinfang.petition.replied"],
                    }
                }
            }
        ),
    ],
) -> SubscriptionCreated:
    directory = request.app.state.directory.get(session)
    bureau = county_bureau(who, directory)
    owner_unit, owner_system = subscription_owner(session, body, who, bureau, directory)
    problems: list[FieldError] = []
    unknown = [t for t in body.event_types if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        problems.append(FieldError("event_types", f"不支持订阅的事件类型：{'、'.join(unknown)}"))
    refused = request.app.state.egress.problem(str(body.url))
    if refused:
        problems.append(FieldError("url", refused))
    if problems:
        raise validation_problem(problems)
    sub, secret = subscribe(
        session,
        protector=request.app.state.protector,
        owner_unit=owner_unit,
        owner_system=owner_system,
        url=str(body.url),
        event_types=body.event_types,
        created_by=who.label,
    )
    session.commit()
    return SubscriptionCreated(**_subscription(sub).model_dump(), secret=secret)


def county_bureau(who: Principal, directory: Directory) -> UnitRow:
    """The petition bureau whose admin `who` is: subscriptions are its power."""
    if not owns_county_powers(who, directory):
        raise ProblemError(403, "只有信访局的管理员可以管理事件推送订阅")
    return directory.units[who.unit_id or ""]


def subscription_owner(
    session: SessionDep,
    body: SubscriptionIn,
    who: Principal,
    bureau: UnitRow,
    directory: Directory,
) -> tuple[str | None, str | None]:
    """(owner unit, owner system): a unit or a registered system of the bureau's places."""
    served = directory.divisions_under(bureau.division_code)
    if body.system and body.unit_id:
        raise validation_problem([FieldError("unit_id", "订阅方只能是一个单位或一个外部系统")])
    if body.system:
        system = session.get(ExternalSystem, body.system)
        if system is None or system.jurisdiction not in served:
            raise validation_problem(
                [FieldError("system", f"外部系统 {body.system} 未在本辖区登记")]
            )
        return None, system.name
    unit = directory.units.get(body.unit_id or who.unit_id or "")
    if unit is None or unit.division_code not in served:
        raise validation_problem([FieldError("unit_id", f"单位 {body.unit_id} 不在本辖区")])
    return unit.id, None


def _owned_here(
    sub: WebhookSubscription, session: SessionDep, served: frozenset[str], directory: Directory
) -> bool:
    if sub.owner_unit:
        unit = directory.units.get(sub.owner_unit)
        return unit is not None and unit.division_code in served
    system = session.get(ExternalSystem, sub.owner_system or "")
    return system is not None and system.jurisdiction in served


def _subscription(sub: WebhookSubscription) -> SubscriptionRead:
    return SubscriptionRead(
        id=sub.id,
        system=sub.owner_system,
        unit_id=sub.owner_unit,
        url=sub.url,
        event_types=sub.event_types,
        active=sub.active,
        created_at=to_china(sub.created_at),
    )


@router.get(
    "/webhook-subscriptions", response_model=list[SubscriptionRead], summary="事件推送订阅清单"
)
def get_subscriptions(request: Request, session: SessionDep, who: Admin) -> list[SubscriptionRead]:
    directory = request.app.state.directory.get(session)
    served = directory.divisions_under(county_bureau(who, directory).division_code)
    rows = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
    return [_subscription(s) for s in rows if _owned_here(s, session, served, directory)]


@router.delete(
    "/webhook-subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="停止一个事件推送订阅",
)
def delete_subscription(
    request: Request,
    session: SessionDep,
    who: Admin,
    subscription_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="订阅编号")],
) -> SubscriptionRead:
    directory = request.app.state.directory.get(session)
    served = directory.divisions_under(county_bureau(who, directory).division_code)
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None or not _owned_here(sub, session, served, directory):
        raise ProblemError(404, f"订阅 {subscription_id} 不存在")
    sub.active = False
    session.commit()
    return _subscription(sub)


KINDS = sorted(p.stem for p in TEMPLATE_DIR.glob("*.j2"))


@router.post(
    "/notice-templates/{kind}/preview",
    response_model=PreviewRead,
    summary="预览通知模板：标题、正文和短信条数（每 70 字一条）",
)
def post_preview(
    _: Annotated[Principal, Depends(require_staff())],
    kind: Annotated[str, Path(max_length=40, description="通知类型，如 receipt、urging")],
    body: Annotated[
        PreviewIn,
        Body(
            openapi_examples={
                "受理": {
                    "value": {
                        "context": {
                            "title": "工地拖欠农民工工资",
                            "query_code": "K7QM-4TZP-9WXA",
                            "unit_name": "清河县人力资源和社会保障局",
                        }
                    }
                }
            }
        ),
    ],
) -> PreviewRead:
    if kind not in KINDS:
        raise ProblemError(404, f"没有通知类型 {kind}；可选：{'、'.join(KINDS)}")
    try:
        subject, text = render(kind, body.context)
    except UndefinedError as exc:  # a missing value: say which
        name = re.match(r"'([^']+)' is undefined", str(exc))
        field = f"context.{name.group(1)}" if name else "context"
        raise validation_problem([FieldError(field, "模板需要此值，请在 context 中提供")]) from exc
    except Exception as exc:  # a value of the wrong kind for the template (a list, …)
        raise validation_problem(
            [FieldError("context", f"模板无法用所给的值生成（{type(exc).__name__}）")]
        ) from exc
    return PreviewRead(kind=kind, subject=subject, body=text, sms_segments=sms_segments(text))
