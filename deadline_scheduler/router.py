"""The scheduler's HTTP endpoints: the supervisors' worklist of deadlines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from deadline_scheduler.models import Deadline
from shared.security import Principal
from shared.timeutil import to_china, utcnow
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["期限督办"])
State = Literal["open", "met", "reminded", "urged", "supervised", "accountability", "paused"]


class DeadlineItem(BaseModel):
    petition_id: str
    step: str = Field(examples=["forward"])
    unit_id: str | None = Field(examples=["qinghe.petition_bureau"])
    due_at: datetime
    state: State
    overdue: bool
    provisional: bool
    next_stage_at: datetime | None


@router.get(
    "/deadlines", response_model=list[DeadlineItem], summary="督办工作台：按状态、单位查看期限"
)
def list_deadlines(
    session: SessionDep,
    _: Annotated[Principal, Depends(require_staff("supervisor", "admin", "registrar"))],
    state: Annotated[State | None, Query(description="期限状态")] = None,
    unit_id: Annotated[str | None, Query(max_length=100, description="单位")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeadlineItem]:
    query = select(Deadline).order_by(Deadline.due_at, Deadline.id)
    if state:
        query = query.where(Deadline.state == state)
    if unit_id:
        query = query.where(Deadline.unit_id == unit_id)
    now = utcnow()
    return [
        DeadlineItem(
            petition_id=d.petition_id,
            step=d.step,
            unit_id=d.unit_id,
            due_at=to_china(d.due_at),
            state=d.state,  # type: ignore[arg-type]
            overdue=d.state != "met" and d.due_at < now,
            provisional=d.provisional,
            next_stage_at=to_china(d.next_stage_at) if d.next_stage_at else None,
        )
        for d in session.scalars(query.offset(offset).limit(limit))
    ]
