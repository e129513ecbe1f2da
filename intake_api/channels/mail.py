"""Letters (来信), registered by staff with the postmark and the date of receipt."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from intake_api.channels.common import PROBLEM_422, channel_problems, submit
from intake_api.schemas import Letter, PetitionReceipt
from intake_api.service import ChannelIntake
from shared.errors import FieldError
from shared.petition import EXAMPLE_BODY
from shared.security import Principal
from shared.timeutil import to_china, utcnow
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["信访受理"])
Registrar = Annotated[Principal, Depends(require_staff("registrar", "admin"))]
CLOCK_SKEW = timedelta(minutes=5)

EXAMPLE: dict[str, Any] = {
    **EXAMPLE_BODY,
    "channel": "mail",
    "postmarked_on": "2026-11-24",
    "received_at": "2026-11-26T09:30:00+08:00",
}


def letter_problems(body: Letter) -> list[FieldError]:
    problems = channel_problems(body, ("mail",))
    if body.received_at > utcnow() + CLOCK_SKEW:
        problems.append(FieldError("received_at", "收信时间不能晚于现在"))
    if body.postmarked_on and body.postmarked_on > to_china(body.received_at).date():
        problems.append(FieldError("postmarked_on", "邮戳日期不能晚于收信日期"))
    return problems


@router.post(
    "/mail/letters",
    status_code=201,
    response_model=PetitionReceipt,
    summary="登记来信（期限自收信之日起算）",
    responses=PROBLEM_422,
)
def register_letter(
    request: Request,
    session: SessionDep,
    who: Registrar,
    body: Annotated[Letter, Body(openapi_examples={"来信": {"value": EXAMPLE}})],
) -> PetitionReceipt:
    intake = ChannelIntake(
        channel="mail",
        received_at=body.received_at,
        channel_data={
            "postmarked_on": body.postmarked_on.isoformat() if body.postmarked_on else None,
            "received_at": to_china(body.received_at).isoformat(),
        },
        registered_by=who.label,
        registrar_unit=who.unit_id if who.is_staff else None,
        problems=letter_problems(body),
        require_phone=False,
    )
    return submit(request, session, body, intake)
