"""Casework's HTTP endpoints (staff and external systems)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from services.casework.schemas import (
    Accepted,
    EvaluationIn,
    PetitionRead,
    PetitionSummary,
    ReviewRequestIn,
    TimelineItem,
    TrackView,
)
from services.casework.service import get_visible_case, list_petitions, read_petition, read_timeline
from services.casework.steps import return_petition
from services.casework.tracking import evaluate, find_case, request_review, track_view
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
    status: Annotated[
        Literal["received", "routed", "returned", "declined"] | None, Query(description="状态")
    ] = None,
    overdue: Annotated[bool | None, Query(description="只看超期（true）或未超期（false）")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
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


# --- the petitioner's side: query code + phone -----------------------------------

QueryCode = Annotated[str, Path(min_length=4, max_length=20, description="查询码")]
Phone = Annotated[str, Query(min_length=11, max_length=20, description="信访人手机号")]


@router.get(
    "/track/{query_code}", response_model=TrackView, summary="信访人凭查询码和手机号查询办理进度"
)
def track(request: Request, session: SessionDep, query_code: QueryCode, phone: Phone) -> TrackView:
    case = find_case(session, request.app.state.protector, query_code, phone)
    return track_view(session, case, request.app.state.directory.get(session))


@router.post(
    "/track/{query_code}/evaluation",
    status_code=201,
    response_model=Accepted,
    summary="信访人评价答复（满意、基本满意、不满意），答复后方可评价",
)
def post_evaluation(
    request: Request,
    session: SessionDep,
    query_code: QueryCode,
    phone: Phone,
    body: Annotated[
        EvaluationIn,
        Body(openapi_examples={"满意": {"value": {"rating": "satisfied", "comment": "处理及时"}}}),
    ],
) -> Accepted:
    case = find_case(session, request.app.state.protector, query_code, phone)
    evaluate(session, case=case, body=body)
    session.commit()
    return Accepted(status="accepted")


@router.post(
    "/track/{query_code}/review-request",
    status_code=201,
    response_model=Accepted,
    summary="信访人请求复查（答复之日起 30 日内）或复核（复查意见之日起 30 日内）",
)
def post_review_request(
    request: Request,
    session: SessionDep,
    query_code: QueryCode,
    phone: Phone,
    body: Annotated[
        ReviewRequestIn,
        Body(
            openapi_examples={"请求复查": {"value": {"kind": "review", "reason": "对答复意见不服"}}}
        ),
    ],
) -> Accepted:
    case = find_case(session, request.app.state.protector, query_code, phone)
    closes = request_review(
        session, case=case, body=body, calendar=request.app.state.calendars.get(session)
    )
    session.commit()
    return Accepted(status="accepted", window_closes_at=closes)


# --- the handling unit's steps --------------------------------------------------

Handler = Annotated[Principal, Depends(require_staff("handler", "admin"))]


class ReturnIn(BaseModel):
    model_config = {"extra": "forbid"}

    reason: str = Field(
        min_length=5,
        max_length=2000,
        examples=["该事项属劳动合同争议，应由劳动人事争议仲裁委员会处理，不属于本局职责"],
    )


@router.post(
    "/petitions/{petition_id}/return",
    response_model=Accepted,
    summary="承办单位认为不属于本单位职责，5 个工作日内退回重新分办（第二十三条）",
)
def post_return(
    request: Request,
    session: SessionDep,
    who: Handler,
    petition_id: PetitionId,
    body: Annotated[
        ReturnIn,
        Body(
            openapi_examples={"退回": {"value": {"reason": "该事项属劳动合同争议，不属于本局职责"}}}
        ),
    ],
) -> Accepted:
    directory = request.app.state.directory.get(session)
    case = get_visible_case(session, petition_id, who, directory)
    closes = return_petition(
        session,
        case=case,
        who=who,
        reason=body.reason,
        directory=directory,
        calendar=request.app.state.calendars.get(session),
    )
    session.commit()
    return Accepted(status="returned", window_closes_at=closes)
