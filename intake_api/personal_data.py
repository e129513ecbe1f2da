"""The full personal data of a petition, for the roles that may see it, each read
written to the audit log. Everywhere else it is masked."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from intake_api.models import Petition, PetitionPerson
from shared.audit import record_read
from shared.errors import not_found
from shared.security import Principal, accused_unit_of, hidden_from
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["个人信息"])
# Registrars register and call back petitioners; admins answer for the data.
MAY_READ = ("registrar", "admin")


class PersonRead(BaseModel):
    role: str = Field(examples=["petitioner"])
    name: str = Field(examples=["张三"])
    id_number: str | None = Field(examples=["11010519491231002X"])
    phone: str | None = Field(examples=["13800138000"])
    address: str | None = None


class PersonalData(BaseModel):
    petition_id: str
    people: list[PersonRead]
    caller_phone: str | None = Field(default=None, description="热线来电号码")


@router.get(
    "/petitions/{petition_id}/personal-data",
    response_model=PersonalData,
    summary="查看信访人完整个人信息（仅限登记员、管理员，每次查看均记入审计日志）",
)
def read_personal_data(
    request: Request,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff(*MAY_READ))],
    petition_id: Annotated[str, Path(max_length=36)],
    reason: Annotated[
        str, Query(min_length=2, max_length=200, description="查看理由，如：电话回访核实")
    ],
) -> PersonalData:
    petition = session.get(Petition, petition_id)
    # the reporter's identity never reaches the unit reported (arts. 30, 46): for its
    # staff the report does not exist
    if petition is None or hidden_from(who, accused_unit_of(petition.accused)):
        raise not_found(f"信访事项 {petition_id} ")
    protector = request.app.state.protector
    people = session.scalars(
        select(PetitionPerson)
        .where(PetitionPerson.petition_id == petition_id)
        .order_by(PetitionPerson.position)
    ).all()
    caller = (petition.channel_data or {}).get("caller_phone_enc")
    record_read(
        session,
        petition_id=petition_id,
        reader=who,
        fields=["name", "id_number", "phone", "address"] + (["caller_phone"] if caller else []),
        reason=reason,
    )
    session.commit()
    return PersonalData(
        petition_id=petition_id,
        people=[
            PersonRead(
                role=p.role,
                name=p.name,
                id_number=protector.decrypt(p.id_number_enc) if p.id_number_enc else None,
                phone=protector.decrypt(p.phone_enc) if p.phone_enc else None,
                address=p.address,
            )
            for p in people
        ],
        caller_phone=protector.decrypt(caller) if caller else None,
    )


# Roles that see every petition's material; handlers and leaders only their units'.
ALL_SEEING = ("registrar", "supervisor", "admin")


@router.get(
    "/petitions/{petition_id}/attachments/{position}",
    summary="下载信访材料附件（被检举单位不能获取检举材料）",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "附件原文件"}},
)
def download_attachment(
    request: Request,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff())],
    petition_id: Annotated[str, Path(max_length=36)],
    position: Annotated[int, Path(ge=0, le=100)],
) -> Response:
    petition = session.get(Petition, petition_id)
    if petition is None or not may_fetch(petition, who):
        raise not_found(f"信访事项 {petition_id} 的附件 {position} ")
    attachment = next((a for a in petition.attachments if a.position == position), None)
    if attachment is None:
        raise not_found(f"信访事项 {petition_id} 的附件 {position} ")
    data = request.app.state.storage.get(attachment.storage_key)
    return Response(
        content=data,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


def may_fetch(petition: Petition, who: Principal) -> bool:
    if hidden_from(who, accused_unit_of(petition.accused)):
        return False  # report material never reaches the reported (arts. 30, 46)
    if who.role in ALL_SEEING:
        return True
    return who.unit_id in {petition.lead_unit, *(petition.assisting_units or [])}
