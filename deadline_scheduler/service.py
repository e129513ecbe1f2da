"""Use cases of the deadline scheduler: open a step's clock, end it, stop and restart
it, extend it, and work open deadlines out again when the calendar or a policy
changes. Every change is announced (`deadline.opened` / `deadline.recomputed`) with
the basis that shows how the due date was worked out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deadline_scheduler.clock import Pause, WorkCalendar, compute_due
from deadline_scheduler.ladder import Ladder, ladder_named, next_stage_at
from deadline_scheduler.models import Deadline, DeadlineStage
from deadline_scheduler.policies import (
    DEFAULT_POLICIES,
    Overrides,
    StepPolicy,
    TimeLimitsIn,
    load_ladders,
    load_overrides,
    policy_for,
    store_time_limits,
)
from shared.events import DEADLINE_OPENED, DEADLINE_RECOMPUTED, emit
from shared.timeutil import iso_china

SERVICE = "scheduler"
DONE = ("met",)
REASONS = {
    "calendar": "节假日安排更新，重新计算期限",
    "policy": "办理时限调整，重新计算期限",
    "paused": "中止计时",
    "resumed": "恢复计时，重新计算期限",
    "extended": "延期，重新计算期限",
    "met": "按期办结",
    "met_late": "超期办结",
}


def _issued(session: Session, deadline: Deadline) -> set[str]:
    return set(
        session.scalars(select(DeadlineStage.stage).where(DeadlineStage.deadline_id == deadline.id))
    )


def _announce(session: Session, deadline: Deadline, event_type: str, reason: str) -> None:
    emit(
        session,
        type=event_type,
        service=SERVICE,
        subject=deadline.petition_id,
        data={
            "petition_id": deadline.petition_id,
            "step": deadline.step,
            "step_name": deadline.basis.get("policy") or deadline.step,
            "unit_id": deadline.unit_id,
            "due_at": iso_china(deadline.due_at),
            "state": deadline.state,
            "provisional": deadline.provisional,
            "basis": deadline.basis,
            "reason": reason,
            "reason_text": REASONS.get(reason, ""),
        },
    )


def _pauses(basis: dict[str, Any]) -> list[Pause]:
    return [
        Pause(
            datetime.fromisoformat(p["start"]),
            datetime.fromisoformat(p["end"]) if p.get("end") else None,
            p.get("kind", "material"),
        )
        for p in basis.get("pauses", [])
    ]


def _work_out(
    deadline: Deadline, policy: StepPolicy, calendar: WorkCalendar, pauses: list[Pause]
) -> None:
    """Set the due date and basis from the policy, the start, the pauses and the extension."""
    basis = deadline.basis or {}
    due = compute_due(
        deadline.started_at,
        policy.length,
        policy.unit,
        calendar,
        pauses=pauses,
        extension_days=int(basis.get("extension_days") or 0),
    )
    deadline.due_at = due.due_at
    deadline.provisional = due.provisional
    deadline.basis = {
        **due.basis,
        "policy": policy.name,
        "article": policy.article,
        "level": basis.get("level", policy.level),
        "ladder": policy.ladder,
        "local_limit": policy != DEFAULT_POLICIES[policy.step],
        "state_before_pause": basis.get("state_before_pause"),
    }


def open_deadline(
    session: Session,
    *,
    petition_id: str,
    policy: StepPolicy,
    started_at: datetime,
    unit_id: str | None,
    level: str | None,
    calendar: WorkCalendar,
    event_id: str,
    step_key: str | None = None,
    hidden_from: str | None = None,
) -> Deadline | None:
    """Open the step's deadline once; None if that step already has one. `step_key`
    names the clock when a step runs more than once (a unit designated after a return)."""
    step = step_key or policy.step
    existing = session.scalar(
        select(Deadline).where(Deadline.petition_id == petition_id, Deadline.step == step)
    )
    if existing is not None:
        return None
    deadline = Deadline(
        petition_id=petition_id,
        step=step,
        unit_id=unit_id,
        started_at=started_at,
        state="open",
        opened_by_event=event_id,
        basis={"level": level or ""},
        hidden_from=hidden_from
        or session.scalar(
            select(Deadline.hidden_from)
            .where(Deadline.petition_id == petition_id, Deadline.hidden_from.is_not(None))
            .limit(1)
        ),
    )
    _work_out(deadline, policy, calendar, [])
    deadline.next_stage_at = next_stage_at(
        deadline.due_at, set(), ladder_named(load_ladders(session), policy.ladder), calendar
    )
    session.add(deadline)
    session.flush()
    _announce(session, deadline, DEADLINE_OPENED, "opened")
    return deadline


def _open_of(session: Session, petition_id: str, steps: tuple[str, ...] | None) -> list[Deadline]:
    query = select(Deadline).where(Deadline.petition_id == petition_id, Deadline.state.notin_(DONE))
    rows = list(session.scalars(query.order_by(Deadline.id)))
    return [d for d in rows if steps is None or _base_step(d.step) in steps]


# Steps whose clock starts again in each routing round.
PER_ROUND = ("accept",)


def _base_step(step: str) -> str:
    return step.split("#", 1)[0]


def round_key(step: str, round_: int) -> str:
    """The deadline key of a step that runs again in each routing round (acceptance:
    a unit designated after a return gets its own clock)."""
    return step if round_ <= 1 else f"{step}#{round_}"


def close_steps(
    session: Session,
    *,
    petition_id: str,
    steps: tuple[str, ...],
    at: datetime,
    round_: int | None = None,
) -> int:
    """The steps are done: their clocks stop for good and no stage follows. With
    `round_`, a per-round clock closes only in that round: a late event about round 1
    leaves round 2's clock running."""
    closed = 0
    for deadline in _open_of(session, petition_id, steps):
        base = _base_step(deadline.step)
        if round_ is not None and base in PER_ROUND and deadline.step != round_key(base, round_):
            continue
        late = at > deadline.due_at
        deadline.state = "met"
        deadline.next_stage_at = None
        deadline.basis = {**deadline.basis, "met_at": iso_china(at), "late": late}
        _announce(session, deadline, DEADLINE_RECOMPUTED, "met_late" if late else "met")
        closed += 1
    return closed


def pause_open(session: Session, *, petition_id: str, at: datetime, kind: str) -> int:
    """A hearing or waiting for material: every open clock of the petition stops."""
    paused = 0
    for deadline in _open_of(session, petition_id, None):
        if deadline.state == "paused":
            continue
        pauses = [*deadline.basis.get("pauses", []), {"kind": kind, "start": iso_china(at)}]
        deadline.basis = {**deadline.basis, "pauses": pauses, "state_before_pause": deadline.state}
        deadline.state = "paused"
        deadline.next_stage_at = None
        _announce(session, deadline, DEADLINE_RECOMPUTED, "paused")
        paused += 1
    return paused


def resume_open(
    session: Session,
    *,
    petition_id: str,
    at: datetime,
    calendar: WorkCalendar,
    overrides: Overrides,
) -> int:
    """The pause is over: the paused days are not counted, the due date moves on."""
    resumed = 0
    for deadline in _open_of(session, petition_id, None):
        if deadline.state != "paused":
            continue
        pauses = [dict(p) for p in deadline.basis.get("pauses", [])]
        if pauses and not pauses[-1].get("end"):
            pauses[-1]["end"] = iso_china(at)
        deadline.basis = {**deadline.basis, "pauses": pauses}
        deadline.state = deadline.basis.get("state_before_pause") or "open"
        _rework(session, deadline, calendar, overrides, "resumed", force=True)
        resumed += 1
    return resumed


def extend_step(
    session: Session,
    *,
    petition_id: str,
    step: str,
    days: int,
    calendar: WorkCalendar,
    overrides: Overrides,
) -> int:
    """Art. 34: the step's period runs `days` more calendar days."""
    extended = 0
    for deadline in _open_of(session, petition_id, (step,)):
        deadline.basis = {**deadline.basis, "extension_days": days}
        _rework(session, deadline, calendar, overrides, "extended", force=True)
        extended += 1
    return extended


def _rework(
    session: Session,
    deadline: Deadline,
    calendar: WorkCalendar,
    overrides: Overrides,
    reason: str,
    *,
    force: bool = False,
    ladders: dict[str, Ladder] | None = None,
) -> bool:
    """Work the deadline out again and move its next ladder stage (the ladder, too,
    may have changed); announce it if its due date changed (or `force`)."""
    policy = policy_for(_base_step(deadline.step), deadline.basis.get("level"), overrides)
    before = (deadline.due_at, deadline.provisional)
    _work_out(deadline, policy, calendar, _pauses(deadline.basis))
    if deadline.state != "paused":
        deadline.next_stage_at = next_stage_at(
            deadline.due_at,
            _issued(session, deadline),
            ladder_named(ladders if ladders is not None else load_ladders(session), policy.ladder),
            calendar,
        )
    if not force and (deadline.due_at, deadline.provisional) == before:
        return False
    _announce(session, deadline, DEADLINE_RECOMPUTED, reason)
    return True


def recompute_open(
    session: Session,
    *,
    calendar: WorkCalendar,
    overrides: Overrides | None = None,
    reason: str = "calendar",
) -> int:
    """After a holiday schedule is loaded or a time limit changed: work every open
    deadline out again, move its next ladder stage, and announce each one that
    changed. Returns how many changed."""
    if overrides is None:
        overrides = load_overrides(session)
    ladders = load_ladders(session)
    changed = 0
    for deadline in session.scalars(select(Deadline).where(Deadline.state.notin_(DONE))):
        changed += _rework(session, deadline, calendar, overrides, reason, ladders=ladders)
    return changed


def apply_time_limits(
    session: Session, *, limits: TimeLimitsIn, source: str, calendar: WorkCalendar
) -> int:
    """Replace the county's own time limits and work every open deadline out again
    under them, in one transaction. Returns how many deadlines moved."""
    store_time_limits(session, limits, source)
    return recompute_open(
        session, calendar=calendar, overrides=load_overrides(session), reason="policy"
    )
