"""The intake's event consumers: it learns who handles a petition, to know who may
fetch its attachments."""

from __future__ import annotations

from sqlalchemy.orm import Session

from intake_api.models import Petition
from shared.bus import Bus
from shared.events import PETITION_ROUTED, Envelope

CONSUMER = "intake"


def on_petition_routed(session: Session, event: Envelope) -> None:
    petition = session.get(Petition, event.data["petition_id"])
    if petition is None:
        return
    routing = event.data["routing"]
    petition.lead_unit = routing.get("lead_unit")
    petition.assisting_units = list(routing.get("assisting_units") or [])


def register(bus: Bus) -> None:
    bus.subscribe(f"{CONSUMER}.on_petition_routed", [PETITION_ROUTED], on_petition_routed)
