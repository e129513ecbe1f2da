"""Use cases of the notify gateway."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notify_gateway.channels import inbox
from notify_gateway.models import Notice
from notify_gateway.templates import render
from shared.events import NOTICE_RECORDED, Envelope, emit
from shared.security import mask_phone
from shared.timeutil import iso_china, utcnow

SERVICE = "notify"


def record_notice(
    session: Session,
    *,
    event: Envelope,
    petition_id: str,
    kind: str,
    recipient: str,
    context: dict[str, Any],
) -> Notice | None:
    """Render and deliver one notice through the inbox, once per (event, channel, recipient)."""
    exists = session.scalar(
        select(Notice.id).where(
            Notice.event_id == event.id, Notice.channel == inbox.NAME, Notice.recipient == recipient
        )
    )
    if exists is not None:
        return None
    subject, body = render(kind, context)
    notice = Notice(
        event_id=event.id,
        petition_id=petition_id,
        kind=kind,
        channel=inbox.NAME,
        recipient=recipient,
        subject=subject,
        body=body,
        state="pending",
        attempts=0,
        created_at=utcnow(),
    )
    inbox.deliver(notice)
    session.add(notice)
    session.flush()
    emit(
        session,
        type=NOTICE_RECORDED,
        service=SERVICE,
        subject=petition_id,
        data={
            "petition_id": petition_id,
            "notice_id": notice.id,
            "kind": kind,
            "channel": notice.channel,
            "recipient": recipient,
            "subject": subject,
            "state": notice.state,
            "delivered_at": iso_china(notice.delivered_at),
        },
    )
    return notice


def receipt_context(data: dict[str, Any]) -> dict[str, Any]:
    people = data.get("petitioners") or []
    first = people[0]["name"] if people else "信访人"
    return {
        "petitioner": first,
        "received_at": (data.get("received_at") or "")[:16].replace("T", " "),
        "title": data["title"],
        "query_code": data["query_code"],
        "phone": mask_phone(people[0].get("phone")) if people else None,
    }
