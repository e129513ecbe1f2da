"""Use cases of the deadline scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deadline_scheduler.clock import WorkCalendar, compute_due
from deadline_scheduler.ladder import DEFAULT_LADDER, stage_times
from deadline_scheduler.models import Deadline
from deadline_scheduler.policies import StepPolicy
from shared.events import DEADLINE_OPENED, emit
from shared.timeutil import iso_china

SERVICE = "scheduler"


def first_stage_at(due_at: datetime, calendar: WorkCalendar) -> datetime | None:
    times = [at for _, at in stage_times(due_at, DEFAULT_LADDER, calendar)]
    return min(times) if times else None


def open_deadline(
    session: Session,
    *,
    petition_id: str,
    policy: StepPolicy,
    started_at: datetime,
    unit_id: str | None,
    calendar: WorkCalendar,
    event_id: str,
) -> Deadline | None:
    """Open the step's deadline once; None if that step already has one."""
    existing = session.scalar(
        select(Deadline).where(Deadline.petition_id == petition_id, Deadline.step == policy.step)
    )
    if existing is not None:
        return None
    due = compute_due(started_at, policy.length, policy.unit, calendar)
    basis = {**due.basis, "policy": policy.name, "article": policy.article}
    deadline = Deadline(
        petition_id=petition_id,
        step=policy.step,
        unit_id=unit_id,
        started_at=started_at,
        due_at=due.due_at,
        state="open",
        provisional=due.provisional,
        basis=basis,
        opened_by_event=event_id,
        next_stage_at=first_stage_at(due.due_at, calendar),
    )
    session.add(deadline)
    emit(
        session,
        type=DEADLINE_OPENED,
        service=SERVICE,
        subject=petition_id,
        data={
            "petition_id": petition_id,
            "step": policy.step,
            "step_name": policy.name,
            "unit_id": unit_id,
            "due_at": iso_china(deadline.due_at),
            "state": deadline.state,
            "provisional": due.provisional,
            "basis": basis,
        },
    )
    return deadline
