"""Web pages and the WeChat mini-program."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request

from intake_api.channels.common import PROBLEM_422, channel_problems, submit
from intake_api.schemas import PetitionReceipt
from intake_api.service import ChannelIntake
from shared.petition import EXAMPLE_BODY, PetitionBody
from shared.web import SessionDep

router = APIRouter(prefix="/api/v1", tags=["信访受理"])
ALLOWED = ("web", "miniprogram")


@router.post(
    "/petitions",
    status_code=201,
    response_model=PetitionReceipt,
    summary="提交信访事项（网页、微信小程序）",
    responses=PROBLEM_422,
)
def create_petition(
    request: Request,
    session: SessionDep,
    body: Annotated[PetitionBody, Body(openapi_examples={"拖欠工资": {"value": EXAMPLE_BODY}})],
) -> PetitionReceipt:
    channel = body.channel if body.channel in ALLOWED else "web"
    intake = ChannelIntake(
        channel=channel,
        channel_data={"openid": body.openid} if body.openid else {},
        problems=channel_problems(body, ALLOWED),
    )
    return submit(request, session, body, intake)
