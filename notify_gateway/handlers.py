"""The notify gateway's event consumers: which events tell whom."""

from __future__ import annotations

from sqlalchemy.orm import Session

from notify_gateway.service import receipt_context, record_notice
from shared.bus import Bus
from shared.events import DEADLINE_STAGE_TYPES, PETITION_RECEIVED, PETITION_ROUTED, Envelope

CONSUMER = "notify"
ROLE_TEXT = {"assign": "办理", "refer_down": "办理（转送下级）", "divert": "依法定途径处理"}


def register(bus: Bus) -> None:
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
        data = event.data
        if not data.get("unit_id"):
            return
        record_notice(
            session,
            event=event,
            petition_id=data["petition_id"],
            kind="urging",
            recipient=f"unit:{data['unit_id']}",
            context={
                "stage_title": data["stage_title"],
                "step_name": data.get("step_name") or data["step"],
                "due_at": data["due_at"][:16].replace("T", " "),
                "petition_id": data["petition_id"],
            },
        )

    bus.subscribe(f"{CONSUMER}.on_deadline_stage", DEADLINE_STAGE_TYPES, on_deadline_stage)
    bus.subscribe(f"{CONSUMER}.on_petition_received", [PETITION_RECEIVED], on_petition_received)
    bus.subscribe(f"{CONSUMER}.on_petition_routed", [PETITION_ROUTED], on_petition_routed)
