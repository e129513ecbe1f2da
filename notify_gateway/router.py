"""The notify gateway's HTTP endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from notify_gateway.models import Notice
from notify_gateway.schemas import NoticeRead
from shared.security import Principal
from shared.timeutil import to_china
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["通知"])


@router.get("/notices", response_model=list[NoticeRead], summary="某信访事项的全部通知及送达状态")
def list_notices(
    session: SessionDep,
    _: Annotated[Principal, Depends(require_staff("registrar", "supervisor", "admin"))],
    petition_id: Annotated[str, Query(min_length=1, max_length=36, description="信访事项编号")],
) -> list[NoticeRead]:
    rows = session.scalars(
        select(Notice).where(Notice.petition_id == petition_id).order_by(Notice.id)
    ).all()
    return [
        NoticeRead(
            id=n.id,
            petition_id=n.petition_id,
            kind=n.kind,
            channel=n.channel,
            recipient=n.recipient,
            subject=n.subject,
            body=n.body,
            state=n.state,
            attempts=n.attempts,
            created_at=to_china(n.created_at),
            delivered_at=to_china(n.delivered_at) if n.delivered_at else None,
        )
        for n in rows
    ]
