"""Casework's event consumers: project every event onto the case and its timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.casework.models import CaseDeadline, CaseView, TimelineEntry
from shared.bus import Bus
from shared.db import insert_if_missing
from shared.events import (
    CLOCK_STOPPED_STATES,
    DEADLINE_OPENED,
    DEADLINE_RECOMPUTED,
    DEADLINE_STAGE_TYPES,
    DEADLINE_STAGES,
    IDENTITY_REKEYED,
    NOTICE_FAILED,
    NOTICE_RECORDED,
    PETITION_RECEIVED,
    PETITION_ROUTED,
    Envelope,
)
from shared.timeutil import to_china, utcnow

CONSUMER = "casework"
CHANNEL_NAMES = {
    "web": "网页",
    "miniprogram": "微信小程序",
    "qr": "扫码信访",
    "hotline": "热线",
    "mail": "来信",
    "visit": "来访",
}
DECISION_NAMES = {
    "assign": "交办",
    "refer_down": "转送下级",
    "divert": "导入法定途径",
    "decline": "不予受理",
}
NOTICE_STATES = {
    "pending": "待发送",
    "sent": "已发送",
    "delivered": "已送达",
    "failed": "发送失败",
    "dead": "放弃发送",
}


def _case(session: Session, petition_id: str) -> CaseView:
    """The case, made if missing and locked: two events about one petition handled at
    once (replicas on a distributed bus, or a staff step) apply one after the other,
    and neither write is lost."""
    insert_if_missing(
        session,
        CaseView,
        petition_id=petition_id,
        status="received",
        record={},
        updated_at=utcnow(),
    )
    case = session.get(CaseView, petition_id, with_for_update=True, populate_existing=True)
    assert case is not None  # it was just made, or already there
    return case


def _timeline(
    session: Session,
    event: Envelope,
    petition_id: str,
    kind: str,
    summary: str,
    detail: dict[str, Any],
) -> None:
    session.add(
        TimelineEntry(
            petition_id=petition_id,
            event_id=event.id,
            event_type=event.type,
            kind=kind,
            at=event.time,
            summary=summary,
            detail=detail,
        )
    )


def on_petition_received(session: Session, event: Envelope) -> None:
    data = event.data
    case = _case(session, data["petition_id"])
    case.query_code = data["query_code"]
    case.received_at = datetime.fromisoformat(data["received_at"])
    # Merged, not replaced: the routing decision may have been seen first.
    case.record = {
        **(case.record or {}),
        **{
            k: v
            for k, v in data.items()
            if k not in ("petition_id", "phone_hashes", "sealed_phones")
        },
    }
    case.phone_hashes = list(data.get("phone_hashes") or [])
    case.updated_at = utcnow()
    channel = CHANNEL_NAMES.get(data["channel"], data["channel"])
    _timeline(
        session,
        event,
        data["petition_id"],
        "received",
        f"收到信访事项「{data['title']}」（{channel}），查询码 {data['query_code']}",
        {"channel": data["channel"], "query_code": data["query_code"]},
    )


def on_petition_routed(session: Session, event: Envelope) -> None:
    data = event.data
    routing = data["routing"]
    case = _case(session, data["petition_id"])
    if (case.record or {}).get("routing_round", 0) > data.get("round", 1):
        return  # an older decision arriving late: the newer one stands
    case.routing = routing
    case.lead_unit = routing.get("lead_unit")
    # who leads and assists is the routing engine's to record (shared.visibility), with
    # its decision
    case.status = "declined" if routing["decision"] == "decline" else "routed"
    # Kept for the steps that depend on it: a unit may return a petition within
    # 5 working days of being designated, and not again after a return.
    case.record = {
        **(case.record or {}),
        "routing_round": data.get("round", 1),
        "routed_at": event.time.isoformat(),
    }
    case.updated_at = utcnow()
    unit = (data.get("units") or {}).get(routing.get("lead_unit") or "", {})
    what = DECISION_NAMES.get(routing["decision"], routing["decision"])
    summary = f"分办：{what}" + (
        f"，由{unit.get('name', routing['lead_unit'])}承办" if routing.get("lead_unit") else ""
    )
    _timeline(session, event, data["petition_id"], "routed", summary, {"routing": routing})


def _find_deadline(session: Session, data: dict[str, Any]) -> CaseDeadline | None:
    return session.scalar(
        select(CaseDeadline).where(
            CaseDeadline.petition_id == data["petition_id"], CaseDeadline.step == data["step"]
        )
    )


def _project_deadline(session: Session, data: dict[str, Any]) -> CaseDeadline:
    row = _find_deadline(session, data)
    if row is None:
        row = CaseDeadline(petition_id=data["petition_id"], step=data["step"], state=data["state"])
        session.add(row)
    row.step_name = data.get("step_name") or data["step"]
    row.unit_id = data.get("unit_id")
    row.due_at = datetime.fromisoformat(data["due_at"])
    row.provisional = bool(data.get("provisional"))
    row.basis = data.get("basis") or {}
    return row


def on_deadline_opened(session: Session, event: Envelope) -> None:
    data = event.data
    # A clock opens once. If its row is already here, a later change to it (paused,
    # extended, met) crossed this event on a distributed bus and stands: the opening
    # only adds its line to the timeline.
    if _find_deadline(session, data) is None:
        _project_deadline(session, data).state = data["state"]
    note = "（节假日安排未公布，暂按周末计算）" if data.get("provisional") else ""
    due_at = datetime.fromisoformat(data["due_at"])
    _timeline(
        session,
        event,
        data["petition_id"],
        "deadline",
        f"开始计时：{data.get('step_name') or data['step']}，"
        f"期限至 {to_china(due_at):%Y-%m-%d %H:%M}{note}",
        {"step": data["step"], "due_at": data["due_at"], "basis": data.get("basis") or {}},
    )


def on_deadline_recomputed(session: Session, event: Envelope) -> None:
    """A clock that moved: a new calendar or time limit, a pause, its end, an
    extension, or the step done."""
    data = event.data
    row = _project_deadline(session, data)
    row.state = data["state"]
    reason = data.get("reason_text") or "重新计算期限"
    if row.state == "met":
        summary = f"{reason}：{row.step_name}（期限 {to_china(row.due_at):%Y-%m-%d %H:%M}）"
    elif row.state == "paused":
        summary = f"{reason}：{row.step_name}，恢复后顺延"
    else:
        summary = f"{reason}：{row.step_name}，期限至 {to_china(row.due_at):%Y-%m-%d %H:%M}"
    _timeline(
        session,
        event,
        data["petition_id"],
        "deadline",
        summary,
        {
            "step": data["step"],
            "due_at": data["due_at"],
            "state": row.state,
            "reason": data.get("reason"),
            "basis": row.basis,
        },
    )


def on_notice_recorded(session: Session, event: Envelope) -> None:
    data = event.data
    state = NOTICE_STATES.get(data["state"], data["state"])
    _timeline(
        session,
        event,
        data["petition_id"],
        "notice",
        f"通知「{data['subject']}」→ {data['recipient']}（{data['channel']}，{state}）",
        {
            **{k: data[k] for k in ("notice_id", "kind", "channel", "recipient", "state")},
            **{k: data[k] for k in ("subject", "body") if k in data},
        },
    )


def on_notice_failed(session: Session, event: Envelope) -> None:
    data = event.data
    _timeline(
        session,
        event,
        data["petition_id"],
        "notice",
        f"通知「{data['subject']}」→ {data['recipient']}（{data['channel']}）"
        f"经 {data['attempts']} 次尝试未能送达，待人工重发：{data.get('error') or ''}",
        {k: data[k] for k in ("notice_id", "kind", "channel", "recipient", "state")},
    )


def on_identity_rekeyed(session: Session, event: Envelope) -> None:
    case = session.get(
        CaseView, event.data["petition_id"], with_for_update=True, populate_existing=True
    )
    if case is not None:
        case.phone_hashes = list(event.data.get("phone_hashes") or [])


def on_deadline_stage(session: Session, event: Envelope) -> None:
    data = event.data
    row = _find_deadline(session, data)
    if (
        row is not None
        and row.state not in CLOCK_STOPPED_STATES
        and DEADLINE_STAGES.index(data["stage"])
        >= (DEADLINE_STAGES.index(row.state) if row.state in DEADLINE_STAGES else -1)
    ):
        row.state = data["stage"]  # stages only move forward, whatever order they arrive in
    _timeline(
        session,
        event,
        data["petition_id"],
        "urging",
        f"{data['stage_title']}：{data.get('step_name') or data['step']}，期限 {data['due_at'][:16].replace('T', ' ')}",
        {
            **{k: data[k] for k in ("step", "stage", "unit_id", "due_at")},
            "recipients": [r["address"] for r in data.get("recipients") or []],
        },
    )


def register(bus: Bus) -> None:
    bus.subscribe(
        f"{CONSUMER}.on_deadline_recomputed", [DEADLINE_RECOMPUTED], on_deadline_recomputed
    )
    bus.subscribe(f"{CONSUMER}.on_deadline_stage", DEADLINE_STAGE_TYPES, on_deadline_stage)
    bus.subscribe(f"{CONSUMER}.on_identity_rekeyed", [IDENTITY_REKEYED], on_identity_rekeyed)
    bus.subscribe(f"{CONSUMER}.on_petition_received", [PETITION_RECEIVED], on_petition_received)
    bus.subscribe(f"{CONSUMER}.on_petition_routed", [PETITION_ROUTED], on_petition_routed)
    bus.subscribe(f"{CONSUMER}.on_deadline_opened", [DEADLINE_OPENED], on_deadline_opened)
    bus.subscribe(f"{CONSUMER}.on_notice_recorded", [NOTICE_RECORDED], on_notice_recorded)
    bus.subscribe(f"{CONSUMER}.on_notice_failed", [NOTICE_FAILED], on_notice_failed)
