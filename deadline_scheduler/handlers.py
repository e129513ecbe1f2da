"""The scheduler's event consumers: steps that start a clock open a deadline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from deadline_scheduler.policies import FORWARD
from deadline_scheduler.service import open_deadline
from shared.bus import Bus
from shared.calendar import CalendarCache
from shared.events import PETITION_ROUTED, Envelope

CONSUMER = "scheduler"


def register(bus: Bus, *, calendars: CalendarCache) -> None:
    def on_petition_routed(session: Session, event: Envelope) -> None:
        data = event.data
        if data.get("round", 1) != 1:
            return  # routing again does not restart the forwarding clock
        # The forwarding period runs from registration (receipt), art. 22.
        open_deadline(
            session,
            petition_id=data["petition_id"],
            policy=FORWARD,
            started_at=datetime.fromisoformat(data["received_at"]),
            unit_id=data.get("addressed_to"),
            calendar=calendars.get(session),
            event_id=event.id,
        )

    bus.subscribe(f"{CONSUMER}.on_petition_routed", [PETITION_ROUTED], on_petition_routed)
