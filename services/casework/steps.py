"""The steps staff and petitioners take on a petition: each checks who may take it and
whether the state machine (`lifecycle`) allows it now, then moves the case, records the
step's event and puts a line on the timeline, all in the caller's transaction.

A step never waits for a notice: the notify gateway and the scheduler follow its
event, so a channel that fails cannot roll the step back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.casework.lifecycle import STEPS, IllegalStep, next_status
from services.casework.models import CaseDeadline, CaseView, TimelineEntry
from services.casework.service import accused_unit
from shared.calendar import WorkCalendar, period_end
from shared.directory import Directory, UnitRow
from shared.errors import FieldError, ProblemError
from shared.events import (
    CLOCK_STEP_EVENTS,
    LEADER_ASSIGNED,
    PETITION_ACCEPTED,
    PETITION_DECLINED,
    PETITION_EVALUATED,
    PETITION_EXTENDED,
    PETITION_FINALIZED,
    PETITION_NOTED,
    PETITION_PAUSED,
    PETITION_RE_EXAMINED,
    PETITION_REPLIED,
    PETITION_RESUMED,
    PETITION_RETURNED,
    PETITION_REVIEWED,
    REVIEW_REQUESTED,
    Envelope,
    emit,
)
from shared.petition import OUTCOME_NAMES
from shared.security import Principal
from shared.timeutil import CHINA, iso_china, to_china, utcnow
from shared.visibility import barred_from, covers_unit, set_parts

SERVICE = "casework"
RETURN_WINDOW_WORKING_DAYS = 5  # art. 23
MAX_EXTENSION_DAYS = 30  # art. 34
ACTING_ROLES = ("handler", "leader", "admin")
HEAD_ROLES = ("leader", "admin")  # an extension is approved by the unit's head
EVENT_TYPES = {
    "accept": PETITION_ACCEPTED,
    "decline": PETITION_DECLINED,
    "return": PETITION_RETURNED,
    "extend": PETITION_EXTENDED,
    "pause": PETITION_PAUSED,
    "resume": PETITION_RESUMED,
    "reply": PETITION_REPLIED,
    "evaluate": PETITION_EVALUATED,
    "request_review": REVIEW_REQUESTED,
    "review": PETITION_REVIEWED,
    "request_re_examination": REVIEW_REQUESTED,
    "re_examine": PETITION_RE_EXAMINED,
}
# The timeline's kind for each step: the fact, in the past tense, like the event.
TIMELINE_KINDS = {step: event.rsplit(".", 1)[1] for step, event in EVENT_TYPES.items()}
TIMELINE_KINDS.update(evaluate="evaluation", request_review="review_request")
TIMELINE_KINDS.update(request_re_examination="review_request")
PAUSE_NAMES = {"hearing": "举行听证", "material": "等待信访人补充材料"}


def _acting_unit(case: CaseView, step: str) -> str | None:
    """The unit whose staff take `step`: the lead unit, or the review bodies."""
    actor = STEPS[step].actor
    record = case.record or {}
    in_re_examination = "re_examination_requested" in (case.status, record.get("paused_from"))
    if step in ("pause", "resume") and in_re_examination:
        actor = "re_examination"  # the re-examining body holds the hearing (art. 36)
    if actor in ("lead", "lead_head"):
        return case.lead_unit
    if actor == "review":
        return record.get("review_unit")
    if actor == "re_examination":
        return record.get("re_examination_unit")
    return None


def check_may_act(case: CaseView, step: str, who: Principal) -> None:
    """Only the acting unit's staff take a step; an extension needs the unit's head."""
    unit = _acting_unit(case, step)
    roles = HEAD_ROLES if STEPS[step].actor == "lead_head" else ACTING_ROLES
    if who.kind != "token" or who.unit_id is None or who.unit_id != unit:
        raise ProblemError(
            403, f"只有承办该步骤的单位（{unit or '未确定'}）可以{STEPS[step].title}"
        )
    if who.role not in roles:
        names = "、".join(roles)
        raise ProblemError(403, f"{STEPS[step].title}须由以下角色办理：{names}")


def check_allowed(case: CaseView, step: str) -> str:
    """The status `step` leads to; a 409 naming the steps allowed now if it is illegal."""
    try:
        return next_status(step, case.status, (case.record or {}).get("paused_from"))
    except IllegalStep as illegal:
        raise ProblemError(
            409,
            str(illegal),
            # `status` is the HTTP status in a problem document: the case's is its own member
            extra={"case_status": case.status, "allowed_steps": illegal.allowed},
        ) from illegal


def record_step(
    session: Session,
    *,
    case: CaseView,
    step: str,
    event_type: str,
    unit: UnitRow | None,
    summary: str,
    detail: dict[str, Any],
    status: str | None,
    kind: str | None = None,
) -> Envelope:
    """Move the case to `status` (None: unchanged), emit the step's event and add its
    timeline line, in one transaction."""
    from_status = case.status
    if status is not None:
        case.status = status
    case.updated_at = utcnow()
    clock: dict[str, Any] = {}
    if event_type in CLOCK_STEP_EVENTS:
        clock["clock_seq"] = (case.record or {}).get("clock_seq", 0) + 1
        _set_record(case, **clock)
    envelope = emit(
        session,
        type=event_type,
        service=SERVICE,
        subject=case.petition_id,
        data={
            "petition_id": case.petition_id,
            "step": step,
            "from_status": from_status,
            "status": case.status,
            "unit_id": unit.id if unit else None,
            "unit_level": unit.level if unit else None,
            "lead_unit": case.lead_unit,
            "query_code": case.query_code,
            "title": (case.record or {}).get("title"),
            "collective": "collective" in ((case.routing or {}).get("flags") or []),
            # the routing round the step belongs to: a late event of an earlier round
            # must not close the clocks of the current one
            "round": (case.record or {}).get("routing_round", 1),
            # the unit a report accuses: a notice of this step never reaches it, even
            # when the gateway sees the step before the petition itself
            "accused_unit": accused_unit(case),
            "at": iso_china(utcnow()),
            **clock,
            **detail,
        },
    )
    session.add(
        TimelineEntry(
            petition_id=case.petition_id,
            event_id=envelope.id,
            event_type=event_type,
            kind=kind or TIMELINE_KINDS[step],
            at=envelope.time,
            summary=summary,
            detail={"step": step, "status": case.status, **detail},
        )
    )
    return envelope


def _unit_name(directory: Directory, unit_id: str | None) -> str:
    unit = directory.units.get(unit_id or "")
    return unit.name if unit else (unit_id or "")


def _set_record(case: CaseView, **changes: Any) -> None:
    # A new dict, so the JSON column is seen as changed.
    case.record = {**(case.record or {}), **changes}


def take_step(
    session: Session,
    *,
    case: CaseView,
    step: str,
    who: Principal,
    directory: Directory,
    summary: str,
    detail: dict[str, Any],
) -> Envelope:
    """A staff step: is it allowed now, who may act, then record it."""
    # The state first: an illegal step is a 409 naming what is allowed now, whoever
    # asks (they can see the case, or they would have had a 404).
    status = check_allowed(case, step)
    check_may_act(case, step, who)
    return record_step(
        session,
        case=case,
        step=step,
        event_type=EVENT_TYPES[step],
        unit=directory.units.get(who.unit_id or ""),
        summary=summary,
        detail=detail,
        status=status,
    )


def return_petition(
    session: Session,
    *,
    case: CaseView,
    who: Principal,
    reason: str,
    directory: Directory,
    calendar: WorkCalendar,
) -> datetime:
    """The lead unit objects that it is not competent; routing decides again without
    it. Returns when the window to object closed (or closes)."""
    check_allowed(case, "return")
    check_may_act(case, "return", who)
    record = case.record or {}
    if record.get("routing_round", 1) > 1:
        raise ProblemError(409, "该信访事项是退回后重新指定给你单位的，不能再次退回（第二十三条）")
    routed_at = datetime.fromisoformat(record["routed_at"])
    end = period_end(
        to_china(routed_at).date(), RETURN_WINDOW_WORKING_DAYS, "working_days", calendar
    )
    closes = datetime.combine(end.last_day, datetime.max.time(), tzinfo=CHINA)
    if utcnow() > closes:
        raise ProblemError(
            409,
            f"已超过 {RETURN_WINDOW_WORKING_DAYS} 个工作日的异议期限（至 {closes:%Y-%m-%d} 止）",
        )
    take_step(
        session,
        case=case,
        step="return",
        who=who,
        directory=directory,
        summary=f"{_unit_name(directory, who.unit_id)}认为不属于本单位职责，退回重新分办：{reason}",
        detail={"reason": reason},
    )
    return closes


def accept(
    session: Session, *, case: CaseView, who: Principal, directory: Directory, note: str | None
) -> None:
    take_step(
        session,
        case=case,
        step="accept",
        who=who,
        directory=directory,
        summary=f"{_unit_name(directory, who.unit_id)}受理，开始办理"
        + (f"：{note}" if note else ""),
        detail={"note": note},
    )


def decline(
    session: Session,
    *,
    case: CaseView,
    who: Principal,
    directory: Directory,
    reason: str,
    legal_basis: str,
) -> None:
    take_step(
        session,
        case=case,
        step="decline",
        who=who,
        directory=directory,
        summary=f"{_unit_name(directory, who.unit_id)}不予受理：{reason}（依据：{legal_basis}）",
        detail={"reason": reason, "legal_basis": legal_basis},
    )


def _open_deadline(session: Session, case: CaseView, step: str) -> CaseDeadline | None:
    return session.scalar(
        select(CaseDeadline).where(
            CaseDeadline.petition_id == case.petition_id,
            CaseDeadline.step == step,
            CaseDeadline.state.notin_(("met",)),
        )
    )


CLOCK_NAMES = {"handle": "办理", "re_examination": "复核"}
# The clock that runs in a state a pause may be taken from.
RUNNING_CLOCK = {
    "handling": "handle",
    "extended": "handle",
    "re_examination_requested": "re_examination",
}


def _refuse_when_overdue(session: Session, case: CaseView, step: str, what: str) -> None:
    """Neither an extension nor a pause can undo a period that has already run out."""
    running = _open_deadline(session, case, step)
    if running is not None and running.due_at < utcnow():
        raise ProblemError(
            409,
            f"{CLOCK_NAMES[step]}期限已于 "
            f"{to_china(running.due_at):%Y-%m-%d} 届满，超期后不能再{what}",
        )


def extend(
    session: Session,
    *,
    case: CaseView,
    who: Principal,
    directory: Directory,
    days: int,
    reason: str,
    approved_by: str,
) -> None:
    """One extension of at most 30 days, approved by the unit's head, before the
    handling period has run out; the petitioner is told why (art. 34)."""
    check_allowed(case, "extend")
    check_may_act(case, "extend", who)
    if (case.record or {}).get("extended_days"):
        raise ProblemError(409, "已延期一次，不能再次延期（第三十四条）")
    _refuse_when_overdue(session, case, "handle", "延期")
    _set_record(case, extended_days=days)
    take_step(
        session,
        case=case,
        step="extend",
        who=who,
        directory=directory,
        summary=f"经{approved_by}批准延期 {days} 日：{reason}",
        detail={"days": days, "reason": reason, "approved_by": approved_by},
    )


def pause(
    session: Session,
    *,
    case: CaseView,
    who: Principal,
    directory: Directory,
    kind: str,
    reason: str,
) -> None:
    """A hearing, or waiting for material the petitioner was asked for: the clock stops."""
    check_allowed(case, "pause")
    check_may_act(case, "pause", who)
    _refuse_when_overdue(session, case, RUNNING_CLOCK[case.status], "中止计时")
    _set_record(case, paused_from=case.status, pause_kind=kind)
    take_step(
        session,
        case=case,
        step="pause",
        who=who,
        directory=directory,
        summary=f"中止计时（{PAUSE_NAMES[kind]}）：{reason}",
        detail={"kind": kind, "reason": reason},
    )


def resume(
    session: Session, *, case: CaseView, who: Principal, directory: Directory, note: str | None
) -> None:
    kind = (case.record or {}).get("pause_kind")
    take_step(
        session,
        case=case,
        step="resume",
        who=who,
        directory=directory,
        summary=f"恢复计时（{PAUSE_NAMES.get(kind or '', '中止')}结束）"
        + (f"：{note}" if note else ""),
        detail={"kind": kind, "note": note},
    )
    _set_record(case, paused_from=None, pause_kind=None)


def opinion(
    session: Session,
    *,
    case: CaseView,
    step: str,
    who: Principal,
    directory: Directory,
    body: dict[str, Any],
) -> None:
    """A written opinion: the reply (信访处理意见书), the review or the re-examination
    opinion. Each starts the petitioner's next window; the re-examination ends the
    matter (三级终结)."""
    what = {"reply": "答复", "review": "复查意见", "re_examine": "复核意见"}[step]
    unit = _unit_name(directory, who.unit_id)
    envelope = take_step(
        session,
        case=case,
        step=step,
        who=who,
        directory=directory,
        summary=f"{unit}作出{what}：{OUTCOME_NAMES[body['outcome']]}。{body['opinion']}",
        detail=body,
    )
    if step == "reply":
        case.replied_at = envelope.time
    elif step == "review":
        case.review_opinion_at = envelope.time
    else:
        record_step(
            session,
            case=case,
            step="finalize",
            event_type=PETITION_FINALIZED,
            unit=directory.units.get(who.unit_id or ""),
            summary="复核意见已作出，信访事项终结；同一事项不再受理（第三十六条）",
            detail={"re_examined_by": who.unit_id},
            status="finalized",
            kind="finalized",
        )


def petitioner_step(
    session: Session,
    *,
    case: CaseView,
    step: str,
    directory: Directory,
    summary: str,
    detail: dict[str, Any],
) -> Envelope:
    """A step the petitioner takes through tracking (rating, review, re-examination).
    A review goes one level up from the unit that replied, a re-examination one level
    further (arts. 35, 36)."""
    status = check_allowed(case, step)
    extra: dict[str, Any] = {}
    if step in ("request_review", "request_re_examination"):
        below = (
            case.lead_unit if step == "request_review" else (case.record or {}).get("review_unit")
        )
        below_unit = directory.units.get(below or "")
        above = directory.units.get(below_unit.parent_id or "") if below_unit else None
        if above is None:
            raise ProblemError(409, f"{_unit_name(directory, below)}没有上一级机关，无法受理该请求")
        key = "review_unit" if step == "request_review" else "re_examination_unit"
        _set_record(case, **{key: above.id})
        set_parts(session, case.petition_id, key.removesuffix("_unit"), [above.id], replace=True)
        extra = {key: above.id, "kind": "review" if step == "request_review" else "re_examination"}
    return record_step(
        session,
        case=case,
        step=step,
        event_type=EVENT_TYPES[step],
        unit=None,
        summary=summary,
        detail={**detail, **extra},
        status=status,
    )


def add_note(
    session: Session, *, case: CaseView, who: Principal, directory: Directory, text: str
) -> None:
    """Lead and assisting units add working notes; the petitioner never sees them."""
    routing = case.routing or {}
    involved = {case.lead_unit, *(routing.get("assisting_units") or [])}
    if who.kind != "token" or who.unit_id not in involved or who.role not in ACTING_ROLES:
        raise ProblemError(403, "只有承办单位和协办单位的工作人员可以添加办理记录")
    record_step(
        session,
        case=case,
        step="note",
        event_type=PETITION_NOTED,
        unit=directory.units.get(who.unit_id or ""),
        summary=f"{_unit_name(directory, who.unit_id)}办理记录：{text}",
        detail={"text": text, "role": who.role},
        status=None,
        kind="note",
    )


def assign_leader(
    session: Session, *, case: CaseView, who: Principal, directory: Directory, unit_id: str
) -> None:
    """包案: a leader of `unit_id` takes charge of the case; that unit's leaders see it
    and are told of its urging stages."""
    if who.kind != "token" or who.role not in ("supervisor", "admin"):
        raise ProblemError(403, "只有督查人员或管理员可以安排领导包案")
    unit = directory.units.get(unit_id)
    if unit is None:
        raise ProblemError(
            422, "包案单位不存在", errors=[FieldError("unit_id", f"单位 {unit_id} 不存在")]
        )
    # a leader of the caller's own unit or one below it (a bureau: of its places)
    if not covers_unit(who, unit.id, directory):
        raise ProblemError(
            403,
            f"只能安排本单位、下级单位（信访局：本辖区单位）的领导包案，{unit.name}不在其中",
        )
    if unit_id in barred_from(session, case.petition_id):
        raise ProblemError(
            409, "被举报单位及其周边单位的领导不能包案该举报事项（第三十条、第四十六条）"
        )
    leaders = list((case.record or {}).get("leaders") or [])
    if unit_id in leaders:
        return
    _set_record(case, leaders=[*leaders, unit_id])
    set_parts(session, case.petition_id, "leader", [unit_id], replace=False)
    record_step(
        session,
        case=case,
        step="assign_leader",
        event_type=LEADER_ASSIGNED,
        unit=unit,
        summary=f"领导包案：{unit.name}",
        detail={"leader_unit": unit_id},
        status=None,
        kind="leader",
    )
