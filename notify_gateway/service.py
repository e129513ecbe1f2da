"""Use cases of the notify gateway: record a notice once per (event, channel,
recipient) on every channel that reaches the recipient, offer events to webhook
subscribers, re-drive a dead notice. Recording never waits for a channel: the
dispatcher delivers afterwards, so a channel that fails cannot undo the step that
caused the notice."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notify_gateway.addressing import INBOX, WEBHOOK, role_of, routes_for, unit_of
from notify_gateway.models import Notice, NotifyPetition, WebhookSubscription
from notify_gateway.templates import render
from shared.directory import Directory
from shared.errors import ProblemError
from shared.events import DEADLINE_STAGE_TYPES, NOTICE_RECORDED, Envelope, emit
from shared.security import (
    DataProtector,
    ExternalSystem,
    Principal,
    accused_unit_in,
    mask_phone,
    system_principal,
)
from shared.timeutil import iso_china, utcnow
from shared.visibility import REPORT, PetitionScope, may_see, unit_principal

SERVICE = "notify"
# What never leaves for another system, even sealed.
PRIVATE_KEYS = ("phone_hashes", "sealed_phones")


def announce(
    session: Session, notice: Notice, event_type: str = NOTICE_RECORDED, **extra: Any
) -> None:
    """Tell casework (the timeline) what became of a notice."""
    emit(
        session,
        type=event_type,
        service=SERVICE,
        subject=notice.petition_id,
        data={
            "petition_id": notice.petition_id,
            "notice_id": notice.id,
            "kind": notice.kind,
            "channel": notice.channel,
            "recipient": notice.recipient,
            "subject": notice.subject,
            "state": notice.state,
            "delivered_at": iso_china(notice.delivered_at),
            # the petitioner's inbox copy in full: what they read when they track it
            **(
                {"body": notice.body}
                if notice.channel == INBOX and notice.recipient.startswith("petitioner:")
                else {}
            ),
            **extra,
        },
    )


def _exists(session: Session, event_id: str, channel: str, recipient: str) -> bool:
    found = session.scalar(
        select(Notice.id).where(
            Notice.event_id == event_id, Notice.channel == channel, Notice.recipient == recipient
        )
    )
    return found is not None


def accused_unit(session: Session, petition_id: str, data: dict[str, Any]) -> str | None:
    """The unit a report accuses, from what the gateway keeps or, when the event came
    first, from the event itself. Its staff never read the notice."""
    known = session.get(NotifyPetition, petition_id)
    if known is not None and known.accused_unit:
        return known.accused_unit
    accused = accused_unit_in(data)
    return str(accused) if accused else None


def record_notice(
    session: Session,
    *,
    event: Envelope,
    petition_id: str,
    kind: str,
    recipient: str,
    context: dict[str, Any],
    directory: Directory,
    enabled: frozenset[str],
    urgent: bool = False,
    stage: str | None = None,
) -> list[Notice]:
    """Render the notice and record it on each channel that reaches `recipient`, once
    per (event, channel, recipient). The inbox copy is delivered at once; the others
    wait for the dispatcher. A unit is told only of what it may see (shared.visibility):
    nothing of a report reaches the accused or those around it."""
    unit_id = unit_of(recipient)
    if unit_id is not None and not may_see(
        session, unit_principal(unit_id, role_of(recipient)), petition_id, directory
    ):
        return []
    hidden_from = accused_unit(session, petition_id, event.data)
    subject, body = render(kind, context)
    known = session.get(NotifyPetition, petition_id)
    now = utcnow()
    made: list[Notice] = []
    for route in routes_for(
        recipient,
        urgent=urgent,
        enabled=enabled,
        directory=directory,
        sealed_phones=known.sealed_phones if known else None,
        openid=known.openid if known else None,
    ):
        if _exists(session, event.id, route.channel, recipient):
            continue
        inbox = route.channel == INBOX
        notice = Notice(
            event_id=event.id,
            petition_id=petition_id,
            kind=kind,
            channel=route.channel,
            recipient=recipient,
            subject=subject,
            body=body,
            state="delivered" if inbox else "pending",
            attempts=1 if inbox else 0,
            created_at=now,
            delivered_at=now if inbox else None,
            urgent=urgent,
            address=route.address,
            next_attempt_at=None if inbox else now,
            hidden_from=hidden_from,
            stage=stage,
        )
        session.add(notice)
        session.flush()
        announce(session, notice)
        made.append(notice)
    return made


def remember_petition(session: Session, data: dict[str, Any]) -> None:
    """What the gateway keeps of a new petition to reach its petitioners."""
    row = session.get(NotifyPetition, data["petition_id"])
    if row is None:
        row = NotifyPetition(petition_id=data["petition_id"])
        session.add(row)
    row.query_code = data["query_code"]
    row.title = (data.get("title") or "")[:200]
    row.sealed_phones = list(data.get("sealed_phones") or [])
    row.openid = (data.get("channel_data") or {}).get("openid")
    row.accused_unit = accused_unit_in(data)


def rekey_petition(session: Session, data: dict[str, Any]) -> None:
    row = session.get(NotifyPetition, data["petition_id"])
    if row is not None and "sealed_phones" in data:
        row.sealed_phones = list(data["sealed_phones"])


def subscriber_principal(session: Session, sub: WebhookSubscription) -> Principal | None:
    """Whom a subscription speaks for: its owning unit, or its registered system."""
    if sub.owner_unit:
        return unit_principal(sub.owner_unit)
    system = session.get(ExternalSystem, sub.owner_system or "")
    return system_principal(system) if system is not None else None


def may_receive(
    session: Session, sub: WebhookSubscription, petition_id: str, directory: Directory
) -> bool:
    """A subscriber receives the events of the petitions its owner may see; a report's
    only when the owner is the discipline organ handling it (its unit or its system)."""
    owner = subscriber_principal(session, sub)
    if owner is None or not petition_id or not may_see(session, owner, petition_id, directory):
        return False
    scope = session.get(PetitionScope, petition_id)
    if scope is not None and scope.type == REPORT:
        unit = directory.units.get(owner.unit_id or "")
        return unit is not None and unit.function == "discipline"
    return True


def offer_to_subscribers(session: Session, event: Envelope, directory: Directory) -> int:
    """One webhook notice per active subscription to the event's type whose owner may
    see the petition."""
    petition_id = str(event.data.get("petition_id") or event.subject or "")
    subscriptions = [
        s
        for s in session.scalars(select(WebhookSubscription).where(WebhookSubscription.active))
        if event.type in s.event_types and may_receive(session, s, petition_id, directory)
    ]
    if not subscriptions:
        return 0
    data = {k: v for k, v in event.data.items() if k not in PRIVATE_KEYS}
    body = json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "time": iso_china(event.time),
            "data": data,
        },
        ensure_ascii=False,
    )
    hidden_from = accused_unit(session, petition_id, event.data)
    # a copy of an urging stage shows its rung, like the stage's own notices
    stage = event.data.get("stage") if event.type in DEADLINE_STAGE_TYPES else None
    now = utcnow()
    made = 0
    for sub in subscriptions:
        recipient = f"webhook:{sub.id}"
        if _exists(session, event.id, WEBHOOK, recipient):
            continue
        session.add(
            Notice(
                event_id=event.id,
                petition_id=petition_id,
                kind="webhook",
                channel=WEBHOOK,
                recipient=recipient,
                subject=event.type,
                body=body,
                state="pending",
                attempts=0,
                created_at=now,
                address=sub.url,
                next_attempt_at=now,
                hidden_from=hidden_from,
                stage=stage,
            )
        )
        made += 1
    return made


def subscribe(
    session: Session,
    *,
    protector: DataProtector,
    owner_unit: str | None,
    owner_system: str | None,
    url: str,
    event_types: list[str],
    created_by: str,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (shown this once, stored sealed)."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        system=owner_system or owner_unit or "",
        owner_unit=owner_unit,
        owner_system=owner_system,
        url=url,
        secret_enc=protector.encrypt(secret),
        event_types=sorted(set(event_types)),
        active=True,
        created_at=utcnow(),
        created_by=created_by,
        extra={},
    )
    session.add(sub)
    session.flush()
    return sub, secret


def redrive(
    session: Session, notice_id: int, now: datetime, who: Principal, directory: Directory
) -> Notice:
    """Staff send a dead (or failed) notice again, from its first attempt. A notice of
    a petition they may not see does not exist for them."""
    # locked: two clerks re-sending it at once, or a dispatcher finishing it, apply in turn
    notice = session.get(Notice, notice_id, with_for_update=True)
    if notice is None or not may_see(session, who, notice.petition_id, directory):
        raise ProblemError(404, f"通知 {notice_id} 不存在")
    if notice.state not in ("dead", "failed"):
        raise ProblemError(
            409, f"通知当前状态为 {notice.state}，只有发送失败或已放弃的通知可以重发"
        )
    if notice.lease_until is not None and notice.lease_until > now:
        raise ProblemError(409, "该通知正在发送，请稍后再看结果")
    notice.state = "pending"
    notice.attempts = 0
    notice.next_attempt_at = now
    notice.lease_until = None
    notice.last_error = (notice.last_error or "") + f"（{iso_china(now)} 人工重发）"
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
