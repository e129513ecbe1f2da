"""The petitioner's side: follow the case with query code + phone, rate the reply,
ask for review (复查) or re-examination (复核) inside the windows of arts. 35 and 36."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.casework.models import CaseDeadline, CaseView, PetitionerRequest, TimelineEntry
from services.casework.schemas import (
    EvaluationIn,
    PublicDeadline,
    PublicEvent,
    ReviewRequestIn,
    TrackView,
)
from shared.calendar import WorkCalendar, period_end
from shared.directory import Directory
from shared.errors import ProblemError
from shared.events import PETITION_EVALUATED, REVIEW_REQUESTED, emit
from shared.petition import normalize_phone
from shared.querycode import normalize_query_code
from shared.security import DataProtector
from shared.timeutil import CHINA, to_china, utcnow

SERVICE = "casework"
REVIEW_WINDOW_DAYS = 30  # arts. 35, 36: within 30 days of the reply / the review opinion
STATUS_NAMES = {
    "received": "已登记",
    "routed": "已分办",
    "returned": "退回重新分办中",
    "declined": "不予重复受理",
    "accepted": "已受理",
    "replied": "已答复",
    "finalized": "已办结",
}
# What a petitioner may see of the timeline: no reasons, no notices to units.
PUBLIC_KINDS = {"received", "routed", "deadline", "notice", "evaluation", "review_request"}


def find_case(session: Session, protector: DataProtector, query_code: str, phone: str) -> CaseView:
    """The case behind a query code, if `phone` is one of its petitioners'. A wrong
    phone and an unknown code answer alike, so neither can be probed."""
    case = session.scalar(
        select(CaseView).where(CaseView.query_code == normalize_query_code(query_code))
    )
    digests = protector.lookup_hashes(normalize_phone(phone))
    if case is None or not set(digests) & set(case.phone_hashes or []):
        raise ProblemError(404, "查询码或手机号不正确")
    return case


def track_view(session: Session, case: CaseView, directory: Directory) -> TrackView:
    unit = directory.units.get(case.lead_unit or "")
    deadlines = session.scalars(
        select(CaseDeadline)
        .where(CaseDeadline.petition_id == case.petition_id)
        .order_by(CaseDeadline.due_at)
    )
    entries = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.petition_id == case.petition_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    record = case.record or {}
    return TrackView(
        query_code=case.query_code or "",
        status=case.status,
        status_name=STATUS_NAMES.get(case.status, case.status),
        title=record.get("title") or "",
        received_at=to_china(case.received_at) if case.received_at else None,
        handling_unit=unit.name if unit else None,
        petitioners=[p.get("name") for p in record.get("petitioners") or []],
        deadlines=[
            PublicDeadline(step_name=d.step_name, due_at=to_china(d.due_at), state=d.state)
            for d in deadlines
        ],
        timeline=[public_event(e) for e in entries if is_public(e)],
    )


def is_public(entry: TimelineEntry) -> bool:
    if entry.kind not in PUBLIC_KINDS:
        return False
    # Notices to units are internal; the petitioner sees those addressed to them.
    return entry.kind != "notice" or str(entry.detail.get("recipient", "")).startswith(
        "petitioner:"
    )


def public_event(entry: TimelineEntry) -> PublicEvent:
    summary = entry.summary
    if entry.kind == "notice":
        summary = f"已向您发送通知：{entry.detail.get('subject') or entry.summary.split('」')[0].lstrip('通知「')}"
    return PublicEvent(at=to_china(entry.at), kind=entry.kind, summary=summary)


def _window_closes(start: datetime, calendar: WorkCalendar) -> datetime:
    end = period_end(to_china(start).date(), REVIEW_WINDOW_DAYS, "calendar_days", calendar)
    return datetime.combine(end.last_day, datetime.max.time(), tzinfo=CHINA)


def _record(
    session: Session, case: CaseView, kind: str, payload: dict[str, Any], event_type: str
) -> None:
    exists = session.scalar(
        select(PetitionerRequest.id).where(
            PetitionerRequest.petition_id == case.petition_id, PetitionerRequest.kind == kind
        )
    )
    if exists is not None:
        raise ProblemError(409, "该请求已经提交过，不能重复提交")
    now = utcnow()
    session.add(PetitionerRequest(petition_id=case.petition_id, kind=kind, payload=payload, at=now))
    envelope = emit(
        session,
        type=event_type,
        service=SERVICE,
        subject=case.petition_id,
        data={"petition_id": case.petition_id, "kind": kind, **payload},
    )
    timeline_kind = "evaluation" if kind == "evaluation" else "review_request"
    summary = {
        "evaluation": f"信访人评价：{EvaluationIn.RATING_NAMES.get(payload.get('rating', ''), '')}",
        "review": "信访人请求复查",
        "re_examination": "信访人请求复核",
    }[kind]
    session.add(
        TimelineEntry(
            petition_id=case.petition_id,
            event_id=envelope.id,
            event_type=event_type,
            kind=timeline_kind,
            at=now,
            summary=summary,
            detail={"kind": kind},
        )
    )


def evaluate(session: Session, *, case: CaseView, body: EvaluationIn) -> None:
    """A rating is possible once the handling unit has replied, and once."""
    if case.replied_at is None:
        raise ProblemError(409, "尚未收到书面答复（信访处理意见书），答复后才能评价")
    _record(
        session,
        case,
        "evaluation",
        {"rating": body.rating, "comment": body.comment},
        PETITION_EVALUATED,
    )


def request_review(
    session: Session, *, case: CaseView, body: ReviewRequestIn, calendar: WorkCalendar
) -> datetime:
    """Review within 30 days of the reply (art. 35); re-examination within 30 days
    of the review opinion (art. 36). Returns when the window closes."""
    if body.kind == "review":
        started, what = case.replied_at, "书面答复（信访处理意见书）"
    else:
        started, what = case.review_opinion_at, "复查意见"
    if started is None:
        raise ProblemError(
            409, f"尚未作出{what}，暂不能提出{'复查' if body.kind == 'review' else '复核'}请求"
        )
    closes = _window_closes(started, calendar)
    if utcnow() > closes:
        raise ProblemError(
            409,
            f"已超过{REVIEW_WINDOW_DAYS}日的请求期限（自{what}之日起算，至 {closes:%Y-%m-%d} 止）",
        )
    _record(session, case, body.kind, {"reason": body.reason}, REVIEW_REQUESTED)
    return closes
