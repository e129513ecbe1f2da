"""The handling unit's steps. For now: returning a petition that is not the unit's
to handle (异议/退回, art. 23). The rest of the state machine is the casework issue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.casework.models import CaseView, TimelineEntry
from shared.calendar import WorkCalendar, period_end
from shared.directory import Directory
from shared.errors import ProblemError
from shared.events import PETITION_RETURNED, emit
from shared.security import Principal
from shared.timeutil import CHINA, to_china, utcnow

SERVICE = "casework"
RETURN_WINDOW_WORKING_DAYS = 5  # art. 23
MAY_RETURN = ("handler", "admin")


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
    if who.kind != "token" or who.role not in MAY_RETURN or who.unit_id != case.lead_unit:
        raise ProblemError(403, "只有承办单位的经办人或管理员可以退回")
    if case.status != "routed":
        raise ProblemError(409, f"当前状态为 {case.status}，只有已分办、尚未受理的信访事项可以退回")
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
    unit = directory.units.get(who.unit_id or "")
    envelope = emit(
        session,
        type=PETITION_RETURNED,
        service=SERVICE,
        subject=case.petition_id,
        data={
            "petition_id": case.petition_id,
            "unit_id": who.unit_id,
            "reason": reason,
            "round": record.get("routing_round", 1),
        },
    )
    case.status = "returned"
    case.updated_at = utcnow()
    session.add(
        TimelineEntry(
            petition_id=case.petition_id,
            event_id=envelope.id,
            event_type=PETITION_RETURNED,
            kind="returned",
            at=envelope.time,
            summary=f"{unit.name if unit else who.unit_id}认为不属于本单位职责，退回重新分办：{reason}",
            detail={"unit_id": who.unit_id, "reason": reason},
        )
    )
    return closes
