"""The notify gateway's event consumers: which events tell whom."""

from __future__ import annotations

from sqlalchemy.orm import Session

from notify_gateway.service import receipt_context, record_notice
from shared.bus import Bus
from shared.directory import DirectoryCache
from shared.events import (
    DEADLINE_STAGE_TYPES,
    PETITION_ACCEPTED,
    PETITION_DECLINED,
    PETITION_EXTENDED,
    PETITION_RECEIVED,
    PETITION_REPLIED,
    PETITION_ROUTED,
    Envelope,
)
from shared.petition import OUTCOME_NAMES

CONSUMER = "notify"
ROLE_TEXT = {"assign": "办理", "refer_down": "办理（转送下级）", "divert": "依法定途径处理"}


PETITIONER_NOTICES = {
    PETITION_ACCEPTED: "step_accepted",
    PETITION_DECLINED: "step_declined",
    PETITION_EXTENDED: "step_extended",
    PETITION_REPLIED: "step_replied",
}


def register(bus: Bus, *, directories: DirectoryCache) -> None:
    def on_petition_received(session: Session, event: Envelope) -> None:
        data = event.data
        record_notice(
            session,
            event=event,
            petition_id=data["petition_id"],
            kind="receipt",
            recipient=f"petitioner:{data['query_code']}",
            context=receipt_context(data),
        )

    def on_petition_routed(session: Session, event: Envelope) -> None:
        data = event.data
        routing = data["routing"]
        lead = routing.get("lead_unit")
        if not lead:
            return
        unit = (data.get("units") or {}).get(lead, {})
        record_notice(
            session,
            event=event,
            petition_id=data["petition_id"],
            kind="new_case",
            recipient=f"unit:{lead}",
            context={
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
            record_notice(
                session,
                event=event,
                petition_id=data["petition_id"],
                kind="urging",
                recipient=address,
                context={
                    "stage_title": data["stage_title"],
                    "step_name": data.get("step_name") or data["step"],
                    "due_at": data["due_at"][:16].replace("T", " "),
                    "petition_id": data["petition_id"],
                },
            )

    def on_step(session: Session, event: Envelope) -> None:
        """The petitioner is told of acceptance, refusal, extension and the reply."""
        data = event.data
        if not data.get("query_code"):
            return
        unit_id = data.get("unit_id") or ""
        unit = directories.get(session).units.get(unit_id)
        record_notice(
            session,
            event=event,
            petition_id=data["petition_id"],
            kind=PETITIONER_NOTICES[event.type],
            recipient=f"petitioner:{data['query_code']}",
            context={
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

    bus.subscribe(f"{CONSUMER}.on_deadline_stage", DEADLINE_STAGE_TYPES, on_deadline_stage)
    bus.subscribe(f"{CONSUMER}.on_step", list(PETITIONER_NOTICES), on_step)
    bus.subscribe(f"{CONSUMER}.on_petition_received", [PETITION_RECEIVED], on_petition_received)
    bus.subscribe(f"{CONSUMER}.on_petition_routed", [PETITION_ROUTED], on_petition_routed)
