"""Use cases of the routing engine: decide for a petition, store and announce it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing_engine.facts import compute_facts
from routing_engine.models import RoutingDecision
from routing_engine.rules.engine import Decision, Ruleset, decide
from shared.directory import Directory
from shared.events import PETITION_ROUTED, Envelope, emit
from shared.timeutil import utcnow

SERVICE = "routing"


def load_ruleset(path: Path) -> Ruleset:
    return Ruleset.from_doc(json.loads(path.read_text(encoding="utf-8")))


def repeat_state(session: Session, earlier: str | None) -> str:
    """Where the earlier petition of a repeat stands, as far as routing knows: routed
    and not closed is in progress. (Closing — 三级终结 — comes with the casework steps.)"""
    if not earlier:
        return ""
    decided = session.scalar(
        select(RoutingDecision.id).where(RoutingDecision.petition_id == earlier).limit(1)
    )
    return "in_progress" if decided is not None else ""


def simulate(*, petition: dict[str, Any], ruleset: Ruleset, directory: Directory) -> Decision:
    """The decision a petition would get now; stores nothing."""
    return decide(ruleset, compute_facts(petition, directory))


def route_received_petition(
    session: Session, *, event: Envelope, ruleset: Ruleset, directory: Directory
) -> RoutingDecision:
    """Decide for a `petition.received` event; store the decision and `petition.routed`."""
    data = event.data
    facts = compute_facts(
        data, directory, repeat_state=repeat_state(session, data.get("repeat_of"))
    )
    decision = decide(ruleset, facts)
    routing = decision.routing()
    last_round = session.scalar(
        select(func.max(RoutingDecision.round)).where(
            RoutingDecision.petition_id == facts.petition_id
        )
    )
    row = RoutingDecision(
        petition_id=facts.petition_id,
        round=(last_round or 0) + 1,
        event_id=event.id,
        decision=routing["decision"],
        lead_unit=routing["lead_unit"],
        routing=routing,
        facts=facts.public(),
        trace=decision.trace,
        units_used=decision.outcome.units_used,
        ruleset_version=ruleset.label,
        directory_version=directory.version,
        decided_at=utcnow(),
    )
    session.add(row)
    emit(
        session,
        type=PETITION_ROUTED,
        service=SERVICE,
        subject=facts.petition_id,
        data={
            "petition_id": facts.petition_id,
            "query_code": data.get("query_code"),
            "received_at": data.get("received_at"),
            "addressed_to": data.get("addressed_to"),
            "title": data.get("title"),
            "round": row.round,
            "routing": routing,
            "units": decision.outcome.units_used,
        },
    )
    return row
