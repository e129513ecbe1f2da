"""What the channels' endpoints share."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from intake_api.models import Petition
from intake_api.schemas import PetitionReceipt
from intake_api.service import ChannelIntake, submit_petition
from shared.errors import FieldError, ProblemError, validation_problem
from shared.petition import PetitionBody
from shared.security import Principal
from shared.timeutil import to_china

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


def channel_problems(body: PetitionBody, allowed: tuple[str, ...]) -> list[FieldError]:
    """A body may name its channel only if the endpoint serves that channel."""
    if "channel" in body.model_fields_set and body.channel not in allowed:
        return [FieldError("channel", f"此接口只受理以下渠道：{'、'.join(allowed)}")]
    return []


def check_system_push(who: Principal, channel: str, source_system: str) -> None:
    """An external system pushes only through the channels it is registered for, and
    only in its own name: its tickets are the ones it may read back."""
    if not who.is_system:
        return
    if channel not in who.channels:
        raise ProblemError(403, f"外部系统 {who.system} 未获准通过 {channel} 渠道推送信访事项")
    if source_system != who.system:
        raise validation_problem(
            [FieldError("source_system", f"须为本 API Key 所属系统的名称：{who.system}")]
        )


def receipt(petition: Petition) -> PetitionReceipt:
    return PetitionReceipt(
        id=petition.id,
        query_code=petition.query_code,
        status="received",
        received_at=to_china(petition.received_at),
    )


def submit(
    request: Request, session: Session, body: PetitionBody, intake: ChannelIntake
) -> PetitionReceipt:
    """Store and commit; the receipt only goes out once the petition is on disk."""
    state = request.app.state
    petition = submit_petition(
        session,
        body=body,
        intake=intake,
        directory=state.directory.get(session),
        protector=state.protector,
        storage=state.storage,
        limits=state.attachment_limits,
        repeats=state.repeat_policy,
    )
    session.commit()
    return receipt(petition)
