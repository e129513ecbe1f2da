"""Hotlines (12345, 96150, 12333): tickets typed by an operator or pushed by the
hotline platform. The same (source_system, external_ref) is always one petition."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.exc import IntegrityError

from intake_api.channels.common import (
    PROBLEM_422,
    channel_problems,
    check_system_push,
    receipt,
    submit,
)
from intake_api.schemas import HotlineTicket, PetitionReceipt
from intake_api.service import ChannelIntake, find_external
from shared.petition import EXAMPLE_BODY
from shared.security import Principal, mask_phone
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["信访受理"])
Caller = Annotated[Principal, Depends(require_staff("registrar", "admin", allow_system=True))]

EXAMPLE: dict[str, Any] = {
    **EXAMPLE_BODY,
    "channel": "hotline",
    "source_system": "12345热线平台",
    "external_ref": "GD20261128000123",
    "call_id": "CALL-8823-01",
    "caller_phone": "13800138000",
}


@router.post(
    "/hotline/tickets",
    status_code=201,
    response_model=PetitionReceipt,
    summary="热线工单推送或登记（同一来源系统的同一工单只生成一件信访事项）",
    responses={
        200: {"description": "该工单此前已推送：返回第一次生成的信访事项"},
        **PROBLEM_422,
    },
)
def create_ticket(
    request: Request,
    response: Response,
    session: SessionDep,
    who: Caller,
    body: Annotated[HotlineTicket, Body(openapi_examples={"12345 工单": {"value": EXAMPLE}})],
) -> PetitionReceipt:
    check_system_push(who, "hotline", body.source_system)
    existing = find_external(session, body.source_system, body.external_ref)
    if existing is not None:
        response.status_code = 200
        return receipt(existing)
    protector = request.app.state.protector
    data: dict[str, Any] = {
        "source_system": body.source_system,
        "external_ref": body.external_ref,
        "call_id": body.call_id,
        "caller_phone": mask_phone(body.caller_phone),
    }
    if body.caller_phone:
        data["caller_phone_enc"] = protector.encrypt(body.caller_phone)
    intake = ChannelIntake(
        channel="hotline",
        channel_data=data,
        registered_by=who.label,
        registrar_unit=who.unit_id if who.is_staff else None,
        external=(body.source_system, body.external_ref),
        problems=channel_problems(body, ("hotline",)),
    )
    try:
        return submit(request, session, body, intake)
    except IntegrityError:
        # The same ticket pushed twice at the same moment: the first one stands.
        session.rollback()
        existing = find_external(session, body.source_system, body.external_ref)
        if existing is None:
            raise
        response.status_code = 200
        return receipt(existing)
