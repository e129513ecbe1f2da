"""Casework's HTTP endpoints (staff and external systems)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from services.casework import steps
from services.casework.lifecycle import STATUS_NAMES, STATUSES, allowed_steps
from services.casework.models import CaseView
from services.casework.schemas import (
    Accepted,
    AcceptIn,
    DeclineIn,
    EvaluationIn,
    ExtendIn,
    HearingIn,
    LeaderIn,
    NoteIn,
    OpinionIn,
    PauseIn,
    PetitionRead,
    PetitionSummary,
    ResumeIn,
    ReviewRequestIn,
    StepDone,
    TimelineItem,
    TrackView,
)
from services.casework.service import get_visible_case, list_petitions, read_petition, read_timeline
from services.casework.tracking import evaluate, find_case, request_review, track_view
from shared.errors import ProblemError, not_found
from shared.security import Principal
from shared.visibility import ticket_of
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
    "/petitions/external/{source_system}/{external_ref}",
    response_model=PetitionRead,
    summary="外部系统按本系统工单号查询其推送的信访事项（来源系统 + 工单号）",
)
def get_by_ticket(
    request: Request,
    session: SessionDep,
    who: Reader,
    source_system: Annotated[str, Path(max_length=100, description="来源系统")],
    external_ref: Annotated[str, Path(max_length=100, description="该系统的工单号")],
) -> PetitionRead:
    directory = request.app.state.directory.get(session)
    petition_id = ticket_of(session, source_system, external_ref)
    if petition_id is None:
        raise not_found(f"{source_system} 的工单 {external_ref} ")
    try:
        return read_petition(session, petition_id=petition_id, who=who, directory=directory)
    except ProblemError as hidden:
        raise not_found(f"{source_system} 的工单 {external_ref} ") from hidden


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
    unit_id: Annotated[str | None, Query(max_length=100, description="承办或协办的单位")] = None,
    status: Annotated[Literal[STATUSES] | None, Query(description="状态")] = None,
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
    case = find_case(session, request.app.state.protector, query_code, phone, for_update=True)
    evaluate(session, case=case, body=body, directory=request.app.state.directory.get(session))
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
    case = find_case(session, request.app.state.protector, query_code, phone, for_update=True)
    closes = request_review(
        session,
        case=case,
        body=body,
        calendar=request.app.state.calendars.get(session),
        directory=request.app.state.directory.get(session),
    )
    session.commit()
    return Accepted(status="accepted", window_closes_at=closes)


# --- the handling unit's steps --------------------------------------------------

Handler = Annotated[Principal, Depends(require_staff("handler", "admin"))]
Staff = Annotated[Principal, Depends(require_staff())]


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
    case = get_visible_case(session, petition_id, who, directory, for_update=True)
    closes = steps.return_petition(
        session,
        case=case,
        who=who,
        reason=body.reason,
        directory=directory,
        calendar=request.app.state.calendars.get(session),
    )
    session.commit()
    return Accepted(status="returned", window_closes_at=closes)


def _example(model: type[BaseModel], title: str, value: dict[str, Any]) -> Any:
    return Annotated[model, Body(openapi_examples={title: {"value": value}})]


DeclineBody = _example(
    DeclineIn,
    "不予受理",
    {"reason": "该事项已经人民法院判决生效", "legal_basis": "《信访工作条例》第三十一条"},
)
ExtendBody = _example(
    ExtendIn,
    "延期",
    {"days": 30, "reason": "需等待劳动监察调查结果", "approved_by": "王局长"},
)
PauseBody = _example(PauseIn, "补充材料", {"kind": "material", "reason": "请补充劳动合同复印件"})
HearingBody = _example(HearingIn, "听证", {"reason": "定于 12 月 5 日举行听证"})
ResumeBody = _example(ResumeIn, "恢复计时", {"note": "信访人已补充材料"})
OpinionBody = _example(
    OpinionIn,
    "支持",
    {
        "outcome": "supported",
        "facts": "经核实，施工单位拖欠工资属实",
        "legal_basis": "《保障农民工工资支付条例》第三十条",
        "opinion": "责令施工总承包单位于 10 日内先行清偿",
    },
)
NoteBody = _example(NoteIn, "办理记录", {"text": "已电话联系信访人，约定下周面谈"})
LeaderBody = _example(LeaderIn, "包案", {"unit_id": "qinghe.party_gov"})


def _act(
    request: Request,
    session: Session,
    who: Principal,
    petition_id: str,
    action: Callable[..., Any],
    **params: Any,
) -> StepDone:
    """Take a step on a petition the caller can see, and say where it stands now."""
    directory = request.app.state.directory.get(session)
    case = get_visible_case(session, petition_id, who, directory, for_update=True)
    action(session, case=case, who=who, directory=directory, **params)
    session.commit()
    return _done(case)


def _done(case: CaseView) -> StepDone:
    return StepDone(
        petition_id=case.petition_id,
        status=case.status,
        status_name=STATUS_NAMES.get(case.status, case.status),
        allowed_steps=allowed_steps(case.status),
    )


def _step_route(path: str, summary: str):  # type: ignore[no-untyped-def]
    return router.post(
        f"/petitions/{{petition_id}}/{path}",
        response_model=StepDone,
        summary=summary,
        responses={
            409: {"description": "当前状态不允许此步骤；allowed_steps 列出现在可以进行的步骤"}
        },
    )


@_step_route("accept", "承办单位受理，开始计算办理期限")
def post_accept(
    request: Request,
    session: SessionDep,
    who: Staff,
    petition_id: PetitionId,
    body: Annotated[AcceptIn, Body(openapi_examples={"受理": {"value": {"note": "已联系核实"}}})],
) -> StepDone:
    return _act(request, session, who, petition_id, steps.accept, note=body.note)


@_step_route("decline", "承办单位不予受理，并说明理由和依据")
def post_decline(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: DeclineBody
) -> StepDone:
    return _act(
        request,
        session,
        who,
        petition_id,
        steps.decline,
        reason=body.reason,
        legal_basis=body.legal_basis,
    )


@_step_route("extend", "经单位负责人批准延期一次，至多 30 日，并告知信访人（第三十四条）")
def post_extend(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: ExtendBody
) -> StepDone:
    return _act(
        request,
        session,
        who,
        petition_id,
        steps.extend,
        days=body.days,
        reason=body.reason,
        approved_by=body.approved_by,
    )


@_step_route("pause", "中止计时：举行听证或等待信访人补充材料")
def post_pause(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: PauseBody
) -> StepDone:
    return _act(request, session, who, petition_id, steps.pause, kind=body.kind, reason=body.reason)


@_step_route("hearing", "举行听证，听证期间不计入期限（第三十六条）")
def post_hearing(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: HearingBody
) -> StepDone:
    return _act(request, session, who, petition_id, steps.pause, kind="hearing", reason=body.reason)


@_step_route("resume", "听证结束或材料已补充，恢复计时")
def post_resume(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: ResumeBody
) -> StepDone:
    return _act(request, session, who, petition_id, steps.resume, note=body.note)


@_step_route("reply", "书面答复信访人（信访处理意见书）：支持、部分支持或不支持，事实和依据")
def post_reply(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: OpinionBody
) -> StepDone:
    return _act(
        request, session, who, petition_id, steps.opinion, step="reply", body=body.model_dump()
    )


@_step_route("review", "上一级机关作出复查意见（第三十五条）")
def post_review(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: OpinionBody
) -> StepDone:
    return _act(
        request, session, who, petition_id, steps.opinion, step="review", body=body.model_dump()
    )


@_step_route("re-examination", "再上一级机关作出复核意见，信访事项终结（第三十六条）")
def post_re_examination(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: OpinionBody
) -> StepDone:
    return _act(
        request, session, who, petition_id, steps.opinion, step="re_examine", body=body.model_dump()
    )


@router.post(
    "/petitions/{petition_id}/notes",
    status_code=201,
    response_model=StepDone,
    summary="承办、协办单位添加办理记录（信访人看不到）",
)
def post_note(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: NoteBody
) -> StepDone:
    return _act(request, session, who, petition_id, steps.add_note, text=body.text)


@router.post(
    "/petitions/{petition_id}/leaders",
    response_model=StepDone,
    summary="安排领导包案：该单位的领导可查看此件，并收到催办督办",
)
def post_leader(
    request: Request, session: SessionDep, who: Staff, petition_id: PetitionId, body: LeaderBody
) -> StepDone:
    return _act(request, session, who, petition_id, steps.assign_leader, unit_id=body.unit_id)
