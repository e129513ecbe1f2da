"""Use cases of the deadline scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deadline_scheduler.clock import WorkCalendar, compute_due
from deadline_scheduler.ladder import DEFAULT_LADDER, stage_times
from deadline_scheduler.models import Deadline, DeadlineStage
from deadline_scheduler.policies import StepPolicy
from shared.events import DEADLINE_OPENED, DEADLINE_RECOMPUTED, emit
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


def recompute_open(session: Session, *, calendar: WorkCalendar) -> int:
    """After a holiday schedule is loaded: work every open deadline out again, move
    its next ladder stage, and announce each one that changed. Returns how many."""
    changed = 0
    for deadline in session.scalars(select(Deadline).where(Deadline.state != "met")):
        basis = deadline.basis
        due = compute_due(
            datetime.fromisoformat(basis["start"]), basis["length"], basis["unit"], calendar
        )
        if due.due_at == deadline.due_at and due.provisional == deadline.provisional:
            continue
        deadline.due_at = due.due_at
        deadline.provisional = due.provisional
        deadline.basis = {
            **due.basis,
            "policy": basis.get("policy"),
            "article": basis.get("article"),
        }
        issued = set(
            session.scalars(
                select(DeadlineStage.stage).where(DeadlineStage.deadline_id == deadline.id)
            )
        )
        pending = [
            at
            for stage, at in stage_times(due.due_at, DEFAULT_LADDER, calendar)
            if stage.name not in issued
        ]
        deadline.next_stage_at = min(pending) if pending else None
        changed += 1
        emit(
            session,
            type=DEADLINE_RECOMPUTED,
            service=SERVICE,
            subject=deadline.petition_id,
            data={
                "petition_id": deadline.petition_id,
                "step": deadline.step,
                "step_name": basis.get("policy") or deadline.step,
                "unit_id": deadline.unit_id,
                "due_at": iso_china(deadline.due_at),
                "state": deadline.state,
                "provisional": deadline.provisional,
                "basis": deadline.basis,
            },
        )
    return changed
