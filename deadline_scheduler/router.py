"""The scheduler's HTTP endpoints: the supervisors' worklist of deadlines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from deadline_scheduler.models import Deadline
from deadline_scheduler.policies import (
    TimeLimitsIn,
    describe,
    describe_ladders,
    load_ladders,
    load_overrides,
    time_limit_faults,
)
from deadline_scheduler.service import apply_time_limits
from shared.errors import FieldError, ProblemError, validation_problem
from shared.events import CLOCK_STOPPED_STATES
from shared.security import Principal
from shared.timeutil import to_china, utcnow
from shared.visibility import owns_county_powers, visible_petitions
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
    request: Request,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff("supervisor", "admin", "registrar"))],
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
    # only the petitions the caller may see (a report never to those around the accused)
    directory = request.app.state.directory.get(session)
    query = query.where(Deadline.petition_id.in_(visible_petitions(who, directory)))
    now = utcnow()
    return [
        DeadlineItem(
            petition_id=d.petition_id,
            step=d.step,
            unit_id=d.unit_id,
            due_at=to_china(d.due_at),
            state=d.state,  # type: ignore[arg-type]
            overdue=d.state not in CLOCK_STOPPED_STATES and d.due_at < now,
            provisional=d.provisional,
            next_stage_at=to_china(d.next_stage_at) if d.next_stage_at else None,
        )
        for d in session.scalars(query.offset(offset).limit(limit))
    ]


class TimeLimitsChanged(BaseModel):
    time_limits: list[dict[str, Any]]
    recomputed: int = Field(description="重新计算的未结期限数")


@router.get("/time-limits", summary="各环节办理时限：条例默认值和本地按层级的时限")
def get_time_limits(
    session: SessionDep, _: Annotated[Principal, Depends(require_staff())]
) -> list[dict[str, Any]]:
    return describe(load_overrides(session))


@router.get(
    "/urging-ladders",
    summary="催办阶梯：各阶段（提醒、催办、督办、追责问责建议）的时点和对象，含本地配置",
)
def get_urging_ladders(
    session: SessionDep, _: Annotated[Principal, Depends(require_staff())]
) -> list[dict[str, Any]]:
    return describe_ladders(load_ladders(session))


@router.put(
    "/time-limits",
    response_model=TimeLimitsChanged,
    summary="替换本地办理时限（管理员）；未结期限随即重新计算",
)
def put_time_limits(
    request: Request,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff("admin"))],
    body: Annotated[
        TimeLimitsIn,
        Body(
            openapi_examples={
                "清河县": {
                    "value": {
                        "time_limits": [
                            {
                                "step": "handle",
                                "level": "village",
                                "length": 5,
                                "unit": "working_days",
                            }
                        ]
                    }
                }
            }
        ),
    ],
) -> TimeLimitsChanged:
    directory = request.app.state.directory.get(session)
    if not owns_county_powers(who, directory):
        raise ProblemError(403, "只有县级信访局的管理员可以替换本地办理时限和催办阶梯")
    faults = time_limit_faults(body)
    if faults:
        raise validation_problem([FieldError(f, m) for f, m in faults])
    changed = apply_time_limits(
        session,
        limits=body,
        source=f"api:{who.label}",
        calendar=request.app.state.calendars.get(session),
    )
    session.commit()
    return TimeLimitsChanged(time_limits=describe(load_overrides(session)), recomputed=changed)
