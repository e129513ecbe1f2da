"""The notify gateway's event consumers: which events tell whom. Recording is all
they do; the dispatcher delivers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from notify_gateway.service import (
    offer_to_subscribers,
    receipt_context,
    record_notice,
    rekey_petition,
    remember_petition,
)
from shared.bus import Bus
from shared.directory import Directory, DirectoryCache
from shared.events import (
    DEADLINE_STAGE_TYPES,
    IDENTITY_REKEYED,
    PETITION_ACCEPTED,
    PETITION_DECLINED,
    PETITION_EVALUATED,
    PETITION_EXTENDED,
    PETITION_FINALIZED,
    PETITION_RE_EXAMINED,
    PETITION_RECEIVED,
    PETITION_REPLIED,
    PETITION_RETURNED,
    PETITION_REVIEWED,
    PETITION_ROUTED,
    REVIEW_REQUESTED,
    Envelope,
)
from shared.petition import OUTCOME_NAMES

CONSUMER = "notify"
ROLE_TEXT = {"assign": "办理", "refer_down": "办理（转送下级）", "divert": "依法定途径处理"}
HOW_TEXT = {"assign": "交由", "refer_down": "转送", "divert": "依法导入法定途径，由"}
DECLINE_TEXT = {
    "in_progress": "同一事项正在办理中，请凭原查询码查询进度",
    "finalized": "同一事项已经复核终结，依照《信访工作条例》第三十六条不再受理",
}
PETITIONER_NOTICES = {
    PETITION_ACCEPTED: "step_accepted",
    PETITION_DECLINED: "step_declined",
    PETITION_EXTENDED: "step_extended",
    PETITION_REPLIED: "step_replied",
    PETITION_REVIEWED: "step_reviewed",
    PETITION_RE_EXAMINED: "step_re_examined",
}
# What other government systems may subscribe to.
WEBHOOK_EVENT_TYPES = (
    PETITION_RECEIVED,
    PETITION_ROUTED,
    PETITION_ACCEPTED,
    PETITION_DECLINED,
    PETITION_RETURNED,
    PETITION_EXTENDED,
    PETITION_REPLIED,
    PETITION_EVALUATED,
    REVIEW_REQUESTED,
    PETITION_REVIEWED,
    PETITION_RE_EXAMINED,
    PETITION_FINALIZED,
    *DEADLINE_STAGE_TYPES,
)
COLLECTIVE_PEOPLE = 5  # art. 20: five or more people are a collective visit


def leaders_on_duty(directory: Directory, division_code: str) -> list[str]:
    """The county's leaders told at once of a collective visit: the county's party
    committee and government, and the petition bureau's head."""
    county = directory.division_at(division_code, "county")
    if county is None:
        return []
    units = [directory.unit_with(county.code, f) for f in ("party_gov", "petition_bureau")]
    return [f"unit:{u.id}:leader" for u in units if u is not None]


def register(bus: Bus, *, directories: DirectoryCache, enabled: frozenset[str]) -> None:
    def notice(
        session: Session,
        event: Envelope,
        kind: str,
        recipient: str,
        context: dict[str, Any],
        urgent: bool = False,
        stage: str | None = None,
    ) -> None:
        record_notice(
            session,
            event=event,
            petition_id=event.data["petition_id"],
            kind=kind,
            recipient=recipient,
            context=context,
            directory=directories.get(session),
            enabled=enabled,
            urgent=urgent,
            stage=stage,
        )

    def on_petition_received(session: Session, event: Envelope) -> None:
        data = event.data
        remember_petition(session, data)
        notice(session, event, "receipt", f"petitioner:{data['query_code']}", receipt_context(data))
        if (data.get("people_count") or 1) >= COLLECTIVE_PEOPLE:
            directory = directories.get(session)
            context = {
                "title": data["title"],
                "people_count": data["people_count"],
                "address": data.get("address") or "",
                "received_at": (data.get("received_at") or "")[:16].replace("T", " "),
                "query_code": data["query_code"],
            }
            for leader in leaders_on_duty(directory, data.get("division_code") or ""):
                notice(session, event, "collective_alert", leader, context, urgent=True)

    def on_petition_routed(session: Session, event: Envelope) -> None:
        data = event.data
        routing = data["routing"]
        lead = routing.get("lead_unit")
        unit = (data.get("units") or {}).get(lead or "", {})
        if data.get("query_code"):
            # The petitioner learns where it went, or why it was not accepted again.
            declined = routing["decision"] == "decline"
            notice(
                session,
                event,
                "routed",
                f"petitioner:{data['query_code']}",
                {
                    "title": data.get("title") or "",
                    "query_code": data["query_code"],
                    "declined": declined,
                    "reason": DECLINE_TEXT.get(routing.get("decline_reason") or "", ""),
                    "how": HOW_TEXT.get(routing["decision"], "交由"),
                    "unit_name": unit.get("name", lead or ""),
                },
            )
        if not lead:
            return
        notice(
            session,
            event,
            "new_case",
            f"unit:{lead}",
            {
                "unit_name": unit.get("name", lead),
                "title": data.get("title") or "",
                "query_code": data.get("query_code") or "",
                "role": ROLE_TEXT.get(routing["decision"], "办理"),
                "reasons": "；".join(r["because"] for r in routing.get("reasons", [])),
            },
        )

    def on_deadline_stage(session: Session, event: Envelope) -> None:
        """One notice to each recipient the stage names (by role and unit tree)."""
        data = event.data
        addresses = [r["address"] for r in data.get("recipients") or []]
        if not addresses and data.get("unit_id"):
            addresses = [f"unit:{data['unit_id']}"]
        for address in addresses:
            notice(
                session,
                event,
                "urging",
                address,
                {
                    "stage_title": data["stage_title"],
                    "step_name": data.get("step_name") or data["step"],
                    "due_at": data["due_at"][:16].replace("T", " "),
                    "petition_id": data["petition_id"],
                },
                # a supervision order and beyond are not held for quiet hours
                urgent=data["stage"] in ("supervised", "accountability"),
                stage=data["stage"],
            )

    def on_step(session: Session, event: Envelope) -> None:
        """The petitioner is told of acceptance, refusal, extension and the reply."""
        data = event.data
        if not data.get("query_code"):
            return
        unit_id = data.get("unit_id") or ""
        unit = directories.get(session).units.get(unit_id)
        notice(
            session,
            event,
            PETITIONER_NOTICES[event.type],
            f"petitioner:{data['query_code']}",
            {
                "title": data.get("title") or "",
                "query_code": data["query_code"],
                "unit_name": unit.name if unit else unit_id,
                "reason": data.get("reason") or "",
                "legal_basis": data.get("legal_basis") or "",
                "days": data.get("days") or "",
                "outcome": OUTCOME_NAMES.get(data.get("outcome") or "", ""),
                "opinion": data.get("opinion") or "",
            },
        )

    def on_any(session: Session, event: Envelope) -> None:
        offer_to_subscribers(session, event, directories.get(session))

    def on_identity_rekeyed(session: Session, event: Envelope) -> None:
        rekey_petition(session, event.data)

    bus.subscribe(f"{CONSUMER}.on_deadline_stage", DEADLINE_STAGE_TYPES, on_deadline_stage)
    bus.subscribe(f"{CONSUMER}.on_petition_received", [PETITION_RECEIVED], on_petition_received)
    bus.subscribe(f"{CONSUMER}.on_petition_routed", [PETITION_ROUTED], on_petition_routed)
    bus.subscribe(f"{CONSUMER}.on_step", list(PETITIONER_NOTICES), on_step)
    bus.subscribe(f"{CONSUMER}.on_identity_rekeyed", [IDENTITY_REKEYED], on_identity_rekeyed)
    bus.subscribe(f"{CONSUMER}.webhooks", list(WEBHOOK_EVENT_TYPES), on_any)
