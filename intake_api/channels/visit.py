"""Visits (来访), registered at a reception hall. Five or more people are a
collective visit, which elects one to five representatives (art. 20)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from intake_api.channels.common import PROBLEM_422, channel_problems, submit
from intake_api.schemas import PetitionReceipt, Visit
from intake_api.service import ChannelIntake
from shared.errors import FieldError
from shared.petition import EXAMPLE_BODY
from shared.security import Principal
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["信访受理"])
Registrar = Annotated[Principal, Depends(require_staff("registrar", "admin"))]
COLLECTIVE_FROM = 5
MAX_REPRESENTATIVES = 5

EXAMPLE: dict[str, Any] = {
    **EXAMPLE_BODY,
    "channel": "visit",
    "people_count": 12,
    "representatives": [
        {"name": "王五", "phone": "13900139000"},
        {"name": "赵六", "phone": "13700137000"},
    ],
}


def visit_problems(body: Visit) -> list[FieldError]:
    problems = channel_problems(body, ("visit",))
    if body.people_count >= COLLECTIVE_FROM and not body.representatives:
        problems.append(
            FieldError(
                "representatives",
                f"{body.people_count} 人来访属集体访，须推选 1 至 {MAX_REPRESENTATIVES} 名代表",
            )
        )
    if body.representatives and len(body.representatives) > body.people_count:
        problems.append(FieldError("representatives", "代表人数不能多于来访人数"))
    return problems


@router.post(
    "/visits",
    status_code=201,
    response_model=PetitionReceipt,
    summary="登记来访（5 人以上为集体访，须有 1 至 5 名代表）",
    responses=PROBLEM_422,
)
def register_visit(
    request: Request,
    session: SessionDep,
    who: Registrar,
    body: Annotated[Visit, Body(openapi_examples={"集体访": {"value": EXAMPLE}})],
) -> PetitionReceipt:
    intake = ChannelIntake(
        channel="visit",
        channel_data={
            "collective": body.people_count >= COLLECTIVE_FROM,
            "representative_count": len(body.representatives),
        },
        registered_by=who.label,
        registrar_unit=who.unit_id if who.is_staff else None,
        representatives=list(body.representatives),
        problems=visit_problems(body),
        require_phone=False,
    )
    return submit(request, session, body, intake)
