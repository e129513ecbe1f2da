"""Casework's HTTP endpoints (staff and external systems)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from services.casework.schemas import PetitionRead, PetitionSummary, TimelineItem
from services.casework.service import list_petitions, read_petition, read_timeline
from shared.security import Principal
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["办理"])
Reader = Annotated[Principal, Depends(require_staff(allow_system=True))]
PetitionId = Annotated[str, Path(max_length=36, description="信访事项编号")]


@router.get(
    "/petitions/{petition_id}",
    response_model=PetitionRead,
    summary="信访事项详情：含分办结果 routing 与期限 deadlines",
)
def get_petition(
    request: Request, session: SessionDep, who: Reader, petition_id: PetitionId
) -> PetitionRead:
    directory = request.app.state.directory.get(session)
    return read_petition(session, petition_id=petition_id, who=who, directory=directory)


@router.get(
    "/petitions/{petition_id}/timeline",
    response_model=list[TimelineItem],
    summary="信访事项的全部经过，按时间顺序",
)
def get_timeline(
    request: Request, session: SessionDep, who: Reader, petition_id: PetitionId
) -> list[TimelineItem]:
    directory = request.app.state.directory.get(session)
    return read_timeline(session, petition_id=petition_id, who=who, directory=directory)


@router.get(
    "/petitions", response_model=list[PetitionSummary], summary="工作台：单位的信访事项清单"
)
def get_worklist(
    request: Request,
    session: SessionDep,
    who: Reader,
    unit_id: Annotated[str | None, Query(max_length=100, description="承办单位")] = None,
    status: Annotated[Literal["received", "routed"] | None, Query(description="状态")] = None,
    overdue: Annotated[bool | None, Query(description="只看超期（true）或未超期（false）")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PetitionSummary]:
    directory = request.app.state.directory.get(session)
    return list_petitions(
        session,
        who=who,
        directory=directory,
        unit_id=unit_id,
        status=status,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )
