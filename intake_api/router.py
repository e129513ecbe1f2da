"""The intake's HTTP endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from intake_api.schemas import PetitionReceipt
from intake_api.service import submit_petition
from shared.petition import EXAMPLE_BODY, PetitionBody
from shared.timeutil import to_china
from shared.web import SessionDep

router = APIRouter(prefix="/api/v1", tags=["信访受理"])

PROBLEM_422: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "提交的内容未通过校验：errors 逐项列出字段与原因",
        "content": {
            "application/problem+json": {
                "example": {
                    "type": "about:blank",
                    "title": "提交的内容未通过校验",
                    "status": 422,
                    "detail": "petitioners.0.phone：手机号须为 11 位大陆手机号码（1 开头，第二位 3-9）",
                    "errors": [
                        {
                            "field": "petitioners.0.phone",
                            "message": "手机号须为 11 位大陆手机号码（1 开头，第二位 3-9）",
                        }
                    ],
                }
            }
        },
    }
}


@router.post(
    "/petitions",
    status_code=201,
    response_model=PetitionReceipt,
    summary="提交信访事项（网页、小程序）",
    responses=PROBLEM_422,
)
def create_petition(
    request: Request,
    session: SessionDep,
    body: Annotated[PetitionBody, Body(openapi_examples={"拖欠工资": {"value": EXAMPLE_BODY}})],
) -> PetitionReceipt:
    state = request.app.state
    petition = submit_petition(
        session,
        body=body,
        directory=state.directory.get(session),
        protector=state.protector,
    )
    session.commit()
    return PetitionReceipt(
        id=petition.id,
        query_code=petition.query_code,
        status="received",
        received_at=to_china(petition.received_at),
    )
