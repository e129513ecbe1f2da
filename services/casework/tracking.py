"""The petitioner's side: follow the case with query code + phone, rate the reply,
ask for review (复查) or re-examination (复核) inside the windows of arts. 35 and 36."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.casework.lifecycle import STATUS_NAMES
from services.casework.models import CaseDeadline, CaseView, PetitionerRequest, TimelineEntry
from services.casework.schemas import (
    EvaluationIn,
    PublicDeadline,
    PublicEvent,
    ReviewRequestIn,
    TrackView,
)
from services.casework.steps import petitioner_step
from shared.calendar import WorkCalendar, period_end
from shared.directory import Directory
from shared.errors import ProblemError
from shared.petition import normalize_phone
from shared.querycode import normalize_query_code
from shared.security import DataProtector
from shared.timeutil import CHINA, to_china, utcnow

SERVICE = "casework"
REVIEW_WINDOW_DAYS = 30  # arts. 35, 36: within 30 days of the reply / the review opinion
# What a petitioner may see of the timeline: no reasons, no notices to units.
PUBLIC_KINDS = {
    "received",
    "routed",
    "deadline",
    "notice",
    "evaluation",
    "review_request",
    "accepted",
    "declined",
    "extended",
    "paused",
    "resumed",
    "replied",
    "reviewed",
    "re_examined",
    "finalized",
}


def find_case(
    session: Session,
    protector: DataProtector,
    query_code: str,
    phone: str,
    *,
    for_update: bool = False,
) -> CaseView:
    """The case behind a query code, if `phone` is one of its petitioners'. A wrong
    phone and an unknown code answer alike, so neither can be probed. `for_update` as
    in `get_visible_case`."""
    query = select(CaseView).where(CaseView.query_code == normalize_query_code(query_code))
    case = session.scalar(query.with_for_update() if for_update else query)
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
    if entry.kind != "notice":
        return True
    # Notices to units are internal; the petitioner sees those addressed to them, once
    # (the inbox copy stands for every channel it went by).
    detail = entry.detail
    return (
        str(detail.get("recipient", "")).startswith("petitioner:")
        and detail.get("channel", "inbox") == "inbox"
    )


def public_event(entry: TimelineEntry) -> PublicEvent:
    """A line of the petitioner's timeline; a notice to them reads in full (their inbox)."""
    if entry.kind != "notice":
        return PublicEvent(at=to_china(entry.at), kind=entry.kind, summary=entry.summary)
    subject = entry.detail.get("subject") or entry.summary.split("」")[0].removeprefix("通知「")
    return PublicEvent(
        at=to_china(entry.at),
        kind=entry.kind,
        summary=f"已向您发送通知：{subject}",
        text=entry.detail.get("body"),
    )


def _window_closes(start: datetime, calendar: WorkCalendar) -> datetime:
    end = period_end(to_china(start).date(), REVIEW_WINDOW_DAYS, "calendar_days", calendar)
    return datetime.combine(end.last_day, datetime.max.time(), tzinfo=CHINA)


def _record(
    session: Session,
    case: CaseView,
    step: str,
    kind: str,
    payload: dict[str, Any],
    directory: Directory,
) -> None:
    exists = session.scalar(
        select(PetitionerRequest.id).where(
            PetitionerRequest.petition_id == case.petition_id, PetitionerRequest.kind == kind
        )
    )
    if exists is not None:
        raise ProblemError(409, "该请求已经提交过，不能重复提交")
    summary = {
        "evaluation": f"信访人评价：{EvaluationIn.RATING_NAMES.get(payload.get('rating', ''), '')}",
        "review": "信访人请求复查",
        "re_examination": "信访人请求复核",
    }[kind]
    petitioner_step(
        session, case=case, step=step, directory=directory, summary=summary, detail=payload
    )
    session.add(
        PetitionerRequest(petition_id=case.petition_id, kind=kind, payload=payload, at=utcnow())
    )


def evaluate(session: Session, *, case: CaseView, body: EvaluationIn, directory: Directory) -> None:
    """A rating is possible once the handling unit has replied, and once."""
    if case.replied_at is None:
        raise ProblemError(409, "尚未收到书面答复（信访处理意见书），答复后才能评价")
    payload = {"rating": body.rating, "comment": body.comment}
    _record(session, case, "evaluate", "evaluation", payload, directory)


def request_review(
    session: Session,
    *,
    case: CaseView,
    body: ReviewRequestIn,
    calendar: WorkCalendar,
    directory: Directory,
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
    step = "request_review" if body.kind == "review" else "request_re_examination"
    _record(session, case, step, body.kind, {"reason": body.reason}, directory)
    return closes
