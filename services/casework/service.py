"""Casework's queries, and who may see what."""

from __future__ import annotations

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from services.casework.lifecycle import STATUS_NAMES, allowed_steps
from services.casework.models import CaseDeadline, CaseView, TimelineEntry
from services.casework.schemas import DeadlineRead, PetitionRead, PetitionSummary, TimelineItem
from shared.directory import Directory
from shared.errors import not_found
from shared.events import CLOCK_STOPPED_STATES
from shared.security import Principal, accused_unit_in
from shared.timeutil import to_china, utcnow
from shared.visibility import PetitionPart, may_see, visible_petitions


def accused_unit(case: CaseView) -> str | None:
    """The unit a report names as accused, carried on its steps' events."""
    return accused_unit_in(case.record)


def _deadlines(session: Session, petition_id: str) -> list[DeadlineRead]:
    rows = session.scalars(
        select(CaseDeadline)
        .where(CaseDeadline.petition_id == petition_id)
        .order_by(CaseDeadline.due_at)
    )
    return [
        DeadlineRead(
            step=d.step,
            step_name=d.step_name,
            unit_id=d.unit_id,
            due_at=to_china(d.due_at),
            state=d.state,
            provisional=d.provisional,
            basis=d.basis,
        )
        for d in rows
    ]


def get_visible_case(
    session: Session,
    petition_id: str,
    who: Principal,
    directory: Directory,
    *,
    for_update: bool = False,
) -> CaseView:
    """The case if `who` may see it. `for_update` locks its row until commit (on
    PostgreSQL; SQLite writes one at a time anyway), so that two steps taken at once
    are checked one after the other and the second sees what the first did."""
    # Not visible reads as not found: existence itself is not disclosed.
    if not may_see(session, who, petition_id, directory):
        raise not_found(f"信访事项 {petition_id} ")
    case = session.get(CaseView, petition_id, with_for_update=for_update)
    if case is None:
        raise not_found(f"信访事项 {petition_id} ")
    return case


def read_petition(
    session: Session, *, petition_id: str, who: Principal, directory: Directory
) -> PetitionRead:
    case = get_visible_case(session, petition_id, who, directory)
    r = case.record or {}
    return PetitionRead(
        id=case.petition_id,
        query_code=case.query_code,
        status=case.status,
        received_at=to_china(case.received_at) if case.received_at else None,
        channel=r.get("channel"),
        title=r.get("title"),
        content=r.get("content"),
        type=r.get("type"),
        category=r.get("category"),
        division_code=r.get("division_code"),
        address=r.get("address"),
        addressed_to=r.get("addressed_to"),
        people_count=r.get("people_count"),
        anonymous=r.get("anonymous"),
        petitioners=r.get("petitioners") or [],
        accused=r.get("accused"),
        prior=r.get("prior"),
        attachments=r.get("attachments") or [],
        repeat_of=r.get("repeat_of"),
        normalization=r.get("normalization") or {},
        routing=case.routing,
        deadlines=_deadlines(session, petition_id),
        status_name=STATUS_NAMES.get(case.status, case.status),
        allowed_steps=allowed_steps(case.status),
        leaders=list(r.get("leaders") or []),
    )


def read_timeline(
    session: Session, *, petition_id: str, who: Principal, directory: Directory
) -> list[TimelineItem]:
    get_visible_case(session, petition_id, who, directory)
    rows = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.petition_id == petition_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    return [
        TimelineItem(
            at=to_china(t.at),
            kind=t.kind,
            event_type=t.event_type,
            summary=t.summary,
            detail=t.detail,
        )
        for t in rows
    ]


def list_petitions(
    session: Session,
    *,
    who: Principal,
    directory: Directory,
    unit_id: str | None,
    status: str | None,
    overdue: bool | None,
    limit: int,
    offset: int,
) -> list[PetitionSummary]:
    now = utcnow()
    query = select(CaseView).order_by(CaseView.received_at.desc(), CaseView.petition_id)
    if unit_id:
        # what the unit leads or assists with (a leader's 包案 is not the unit's work)
        theirs = select(PetitionPart.petition_id).where(
            PetitionPart.unit_id == unit_id, PetitionPart.part.in_(("lead", "assisting"))
        )
        query = query.where(CaseView.petition_id.in_(theirs))
    # only what the caller may see, in the query itself: a page is always full
    query = query.where(CaseView.petition_id.in_(visible_petitions(who, directory)))
    if status:
        query = query.where(CaseView.status == status)
    late = exists().where(
        and_(
            CaseDeadline.petition_id == CaseView.petition_id,
            CaseDeadline.due_at < now,
            CaseDeadline.state.notin_(CLOCK_STOPPED_STATES),
        )
    )
    if overdue is True:
        query = query.where(late)
    elif overdue is False:
        query = query.where(~late)
    out: list[PetitionSummary] = []
    for case in session.scalars(query.offset(offset).limit(limit)):
        next_due = session.scalar(
            select(CaseDeadline.due_at)
            .where(
                CaseDeadline.petition_id == case.petition_id,
                CaseDeadline.state.notin_(CLOCK_STOPPED_STATES),
            )
            .order_by(CaseDeadline.due_at)
            .limit(1)
        )
        out.append(
            PetitionSummary(
                id=case.petition_id,
                query_code=case.query_code,
                status=case.status,
                title=(case.record or {}).get("title"),
                category=(case.record or {}).get("category"),
                lead_unit=case.lead_unit,
                received_at=to_china(case.received_at) if case.received_at else None,
                next_due_at=to_china(next_due) if next_due else None,
                overdue=bool(next_due and next_due < now),
            )
        )
    return out
