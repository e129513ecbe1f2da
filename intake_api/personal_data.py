"""The full personal data of a petition, for the roles that may see it, each read
written to the audit log. Everywhere else it is masked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from intake_api.models import Petition, PetitionPerson
from shared.audit import PersonalDataRead, reason_problem, record_read
from shared.errors import FieldError, ProblemError, not_found, validation_problem
from shared.security import Principal
from shared.timeutil import as_china, to_china
from shared.visibility import (
    PERSONAL_DATA_ROLES,
    may_read_personal_data,
    may_see,
    owns_county_powers,
    visible_petitions,
)
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["个人信息"])


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
    summary="查看信访人完整个人信息（本辖区的登记员、管理员，写明理由；每次查看均记入审计日志）",
)
def read_personal_data(
    request: Request,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff(*PERSONAL_DATA_ROLES))],
    petition_id: Annotated[str, Path(max_length=36)],
    reason: Annotated[
        str, Query(min_length=2, max_length=200, description="查看理由，如：电话回访核实诉求")
    ],
) -> PersonalData:
    problem = reason_problem(reason)
    if problem:
        raise validation_problem([FieldError("reason", problem)])
    petition = session.get(Petition, petition_id)
    # the reporter's identity never reaches the unit reported (arts. 30, 46), nor anyone
    # outside the jurisdiction: for them the petition does not exist
    directory = request.app.state.directory.get(session)
    if petition is None or not may_read_personal_data(session, who, petition_id, directory):
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


@router.get(
    "/petitions/{petition_id}/attachments/{position}",
    summary="下载信访材料附件（有权查看该信访事项的工作人员；每次下载记入审计日志）",
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
    directory = request.app.state.directory.get(session)
    petition = session.get(Petition, petition_id)
    # report material never reaches the reported (arts. 30, 46), nor anyone without a part
    if petition is None or not may_see(session, who, petition_id, directory):
        raise not_found(f"信访事项 {petition_id} 的附件 {position} ")
    attachment = next((a for a in petition.attachments if a.position == position), None)
    if attachment is None:
        raise not_found(f"信访事项 {petition_id} 的附件 {position} ")
    data = request.app.state.storage.get(attachment.storage_key)
    record_read(
        session,
        petition_id=petition_id,
        reader=who,
        fields=[f"attachment:{position}"],
        reason="下载附件",
        action="attachment",
    )
    session.commit()
    return Response(
        content=data,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


class AuditEntry(BaseModel):
    id: int
    petition_id: str
    reader: str = Field(examples=["staff:qinghe.petition_bureau:registrar"])
    credential_id: int | None
    action: str = Field(examples=["personal_data"], description="personal_data 或 attachment")
    fields: list[str]
    reason: str
    at: datetime


@router.get(
    "/audit/personal-data-reads",
    response_model=list[AuditEntry],
    summary="个人信息查看与附件下载审计日志（信访局管理员；仅本辖区的信访事项）",
)
def list_audit(
    request: Request,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_staff("admin"))],
    petition_id: Annotated[str | None, Query(max_length=36, description="信访事项编号")] = None,
    reader: Annotated[
        str | None, Query(max_length=150, description="查看者，如 staff:单位:角色 或 system:系统")
    ] = None,
    credential_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="凭据编号")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="起始时间（含）")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="截止时间（不含）")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AuditEntry]:
    directory = request.app.state.directory.get(session)
    if not owns_county_powers(who, directory):
        raise ProblemError(403, "审计日志只向信访局管理员开放")
    query = (
        select(PersonalDataRead)
        .where(PersonalDataRead.petition_id.in_(visible_petitions(who, directory)))
        .order_by(PersonalDataRead.id)
    )
    if petition_id is not None:
        query = query.where(PersonalDataRead.petition_id == petition_id)
    if reader is not None:
        query = query.where(PersonalDataRead.reader == reader)
    if credential_id is not None:
        query = query.where(PersonalDataRead.credential_id == credential_id)
    # a day or a time without an offset is Beijing's
    if since is not None:
        query = query.where(PersonalDataRead.at >= as_china(since))
    if until is not None:
        query = query.where(PersonalDataRead.at < as_china(until))
    return [
        AuditEntry(
            id=r.id,
            petition_id=r.petition_id,
            reader=r.reader,
            credential_id=r.credential_id,
            action=r.action,
            fields=[f for f in r.fields.split(",") if f],
            reason=r.reason,
            at=to_china(r.at),
        )
        for r in session.scalars(query.offset(offset).limit(limit))
    ]
