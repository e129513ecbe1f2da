"""The routing engine's event consumers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from routing_engine.models import FinalizedMatter
from routing_engine.rules.engine import Ruleset
from routing_engine.service import route_received_petition, route_returned_petition
from shared.bus import Bus
from shared.directory import DirectoryCache
from shared.events import PETITION_FINALIZED, PETITION_RECEIVED, PETITION_RETURNED, Envelope

CONSUMER = "routing"


def register(bus: Bus, *, ruleset: Ruleset, directory: DirectoryCache) -> None:
    def on_petition_received(session: Session, event: Envelope) -> None:
        route_received_petition(
            session, event=event, ruleset=ruleset, directory=directory.get(session)
        )

    def on_petition_returned(session: Session, event: Envelope) -> None:
        route_returned_petition(
            session, event=event, ruleset=ruleset, directory=directory.get(session)
        )

    def on_petition_finalized(session: Session, event: Envelope) -> None:
        petition_id = event.data["petition_id"]
        if session.get(FinalizedMatter, petition_id) is None:
            session.add(FinalizedMatter(petition_id=petition_id, finalized_at=event.time))

    bus.subscribe(f"{CONSUMER}.on_petition_finalized", [PETITION_FINALIZED], on_petition_finalized)
    bus.subscribe(f"{CONSUMER}.on_petition_received", [PETITION_RECEIVED], on_petition_received)
    bus.subscribe(f"{CONSUMER}.on_petition_returned", [PETITION_RETURNED], on_petition_returned)
