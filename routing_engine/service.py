"""Use cases of the routing engine: decide for a petition, store and announce it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing_engine.facts import RoutingContext, compute_facts
from routing_engine.models import FinalizedMatter, RoutingDecision
from routing_engine.rules.engine import Decision, Ruleset, decide
from routing_engine.versions import ruleset_for
from shared.directory import Directory
from shared.events import PETITION_ROUTED, Envelope, emit
from shared.security import accused_unit_in
from shared.timeutil import utcnow
from shared.visibility import set_parts

SERVICE = "routing"


def load_ruleset(path: Path) -> Ruleset:
    return Ruleset.from_doc(json.loads(path.read_text(encoding="utf-8")))


def routing_context(session: Session, petition: dict[str, Any]) -> RoutingContext:
    """What routing knows beyond the petition: where the earlier case of a repeat stands
    (routed and not finalized is in progress; finalized after re-examination, 三级终结)
    and which units returned this petition."""
    earlier = petition.get("repeat_of")
    decision = (
        session.scalars(
            select(RoutingDecision)
            .where(RoutingDecision.petition_id == earlier)
            .order_by(RoutingDecision.round.desc())
            .limit(1)
        ).first()
        if earlier
        else None
    )
    if decision is None:
        state = ""
    elif session.get(FinalizedMatter, earlier) is not None:
        state = "finalized"
    else:
        state = "in_progress"
    return RoutingContext(
        repeat_state=state,
        repeat_lead_unit=(decision.lead_unit or "") if decision is not None else "",
        repeat_query_code=str(decision.facts.get("query_code") or "") if decision else "",
    )


def simulate(
    session: Session, *, petition: dict[str, Any], default: Ruleset, directory: Directory
) -> Decision:
    """The decision a petition would get now (the active ruleset, what routing knows of
    an earlier case); stores nothing."""
    ruleset = ruleset_for(
        session,
        directory=directory,
        division_code=petition.get("division_code") or "",
        default=default,
    )
    return decide(ruleset, compute_facts(petition, directory, routing_context(session, petition)))


def route_received_petition(
    session: Session, *, event: Envelope, ruleset: Ruleset, directory: Directory
) -> RoutingDecision:
    """Decide for a `petition.received` event; store the decision and `petition.routed`."""
    return _route(
        session, petition=event.data, event_id=event.id, ruleset=ruleset, directory=directory
    )


def route_returned_petition(
    session: Session, *, event: Envelope, ruleset: Ruleset, directory: Directory
) -> RoutingDecision | None:
    """A unit objected that it is not competent (art. 23): decide again without every
    unit that has returned the petition."""
    petition_id = event.data["petition_id"]
    last = session.scalars(
        select(RoutingDecision)
        .where(RoutingDecision.petition_id == petition_id)
        .order_by(RoutingDecision.round.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    returned = tuple(dict.fromkeys([*last.facts.get("excluded_units", []), event.data["unit_id"]]))
    return _route(
        session,
        petition=last.petition,
        event_id=event.id,
        ruleset=ruleset,
        directory=directory,
        excluded=returned,
        returned_by=event.data["unit_id"],
    )


def _route(
    session: Session,
    *,
    petition: dict[str, Any],
    event_id: str,
    ruleset: Ruleset,
    directory: Directory,
    excluded: tuple[str, ...] = (),
    returned_by: str | None = None,
) -> RoutingDecision:
    data = petition
    ruleset = ruleset_for(
        session, directory=directory, division_code=data.get("division_code") or "", default=ruleset
    )
    context = routing_context(session, data)
    context = RoutingContext(
        context.repeat_state, context.repeat_lead_unit, context.repeat_query_code, excluded
    )
    facts = compute_facts(data, directory, context)
    decision = decide(ruleset, facts)
    routing = decision.routing()
    if returned_by:
        unit = directory.units.get(returned_by)
        routing["reasons"].insert(
            0,
            {
                "rule": "returned",
                "because": f"{unit.name if unit else returned_by}认为不属于本单位职责并已退回，重新分办时不再交其办理（第二十三条）",
            },
        )
    last_round = session.scalar(
        select(func.max(RoutingDecision.round)).where(
            RoutingDecision.petition_id == facts.petition_id
        )
    )
    row = RoutingDecision(
        petition_id=facts.petition_id,
        round=(last_round or 0) + 1,
        event_id=event_id,
        decision=routing["decision"],
        lead_unit=routing["lead_unit"],
        routing=routing,
        petition=data,
        facts=facts.public(),
        trace=decision.trace,
        units_used=decision.outcome.units_used,
        ruleset_version=ruleset.label,
        directory_version=directory.version,
        decided_at=utcnow(),
    )
    session.add(row)
    # who leads and assists may see the petition from the moment this commits
    set_parts(session, facts.petition_id, "lead", [routing["lead_unit"] or ""], replace=True)
    set_parts(session, facts.petition_id, "assisting", routing["assisting_units"], replace=True)
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
            # Services that show the petition hide it from the unit a report accuses.
            "accused_unit": accused_unit_in(data),
            "round": row.round,
            "returned_by": returned_by,
            "routing": routing,
            "units": decision.outcome.units_used,
            # For the notify gateway: the leaders on duty, and which emergency number
            # the petitioner was pointed to.
            "alert_leaders": decision.outcome.alert_leaders,
            "emergency_services": decision.outcome.emergency_services,
        },
    )
    return row
