"""Casework's queries, and who may see what."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, and_, delete, exists, select
from sqlalchemy.orm import Session

from services.casework.lifecycle import STATUS_NAMES, allowed_steps
from services.casework.models import CaseDeadline, CaseParty, CaseView, TimelineEntry
from services.casework.schemas import DeadlineRead, PetitionRead, PetitionSummary, TimelineItem
from shared.directory import Directory
from shared.errors import not_found
from shared.events import CLOCK_STOPPED_STATES
from shared.security import Principal, accused_unit_of, hidden_from
from shared.timeutil import to_china, utcnow

# Roles that see every petition of the jurisdiction; handlers and leaders see their unit's.
ALL_SEEING_ROLES = {"registrar", "supervisor", "admin"}


def unit_and_subordinates(directory: Directory, unit_id: str) -> set[str]:
    """The unit and every unit under it in the unit tree."""
    children: dict[str, list[str]] = {}
    for unit in directory.units.values():
        if unit.parent_id:
            children.setdefault(unit.parent_id, []).append(unit.id)
    seen, stack = set(), [unit_id]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(children.get(current, []))
    return seen


def set_parties(
    session: Session, petition_id: str, part: str, unit_ids: list[str], *, replace: bool
) -> None:
    """Record which units have `part` in the case (replacing the earlier ones, or adding)."""
    if replace:
        session.execute(
            delete(CaseParty).where(CaseParty.petition_id == petition_id, CaseParty.part == part)
        )
    else:
        known = set(
            session.scalars(
                select(CaseParty.unit_id).where(
                    CaseParty.petition_id == petition_id, CaseParty.part == part
                )
            )
        )
        unit_ids = [u for u in unit_ids if u not in known]
    for unit_id in dict.fromkeys(unit_ids):
        session.add(CaseParty(petition_id=petition_id, unit_id=unit_id, part=part))


def accused_unit(case: CaseView) -> str | None:
    """The unit a report accuses (never told of it, never shown it), if any."""
    return accused_unit_of((case.record or {}).get("accused"))


def visible_page(
    session: Session,
    query: Select[tuple[CaseView]],
    visible: Callable[[CaseView], bool],
    *,
    limit: int,
    offset: int,
) -> list[CaseView]:
    """The page of the rows the caller may see: `offset` and `limit` count only those,
    so a page is never short because an invisible row took a place on it."""
    page: list[CaseView] = []
    skipped = fetched = 0
    chunk = max(limit, 100)
    while len(page) < limit:
        rows = session.scalars(query.offset(fetched).limit(chunk)).all()
        fetched += len(rows)
        for case in rows:
            if not visible(case):
                continue
            if skipped < offset:
                skipped += 1
                continue
            page.append(case)
            if len(page) == limit:
                break
        if len(rows) < chunk:
            break
    return page


def may_see(case: CaseView, who: Principal, directory: Directory) -> bool:
    record = case.record or {}
    if hidden_from(who, accused_unit(case)):
        return False
    if who.kind == "apikey" or who.role in ALL_SEEING_ROLES:
        return True
    if who.unit_id in (record.get("leaders") or []) and who.role in ("leader", "admin"):
        return True  # 包案: the leader in charge of the case
    # The unit itself and its superiors (by the unit tree) see what the unit handles,
    # assists with or reviews.
    mine = unit_and_subordinates(directory, who.unit_id or "")
    routing = case.routing or {}
    involved = {
        routing.get("lead_unit"),
        *routing.get("assisting_units", []),
        record.get("review_unit"),
        record.get("re_examination_unit"),
    }
    return bool(mine & involved)


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
    case = session.get(CaseView, petition_id, with_for_update=for_update)
    # Not visible reads as not found: existence itself is not disclosed.
    if case is None or not may_see(case, who, directory):
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
        theirs = select(CaseParty.petition_id).where(
            CaseParty.unit_id == unit_id, CaseParty.part.in_(("lead", "assisting"))
        )
        query = query.where(CaseView.petition_id.in_(theirs))
    if who.kind == "token" and who.role not in ALL_SEEING_ROLES:
        # The cases the unit (or a unit under it) has a part in; may_see has the last word.
        parts = select(CaseParty.petition_id).where(
            CaseParty.unit_id.in_(unit_and_subordinates(directory, who.unit_id or ""))
        )
        if who.role not in ("leader", "admin"):
            parts = parts.where(CaseParty.part != "leader")
        query = query.where(CaseView.petition_id.in_(parts))
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
    for case in visible_page(
        session, query, lambda c: may_see(c, who, directory), limit=limit, offset=offset
    ):
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
