"""The statistics a caller may see: the read model's facts of the petitions the
visibility policy lets it see, counted by `measures`; and the rebuild of the read
model from the stored events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from services.reporting.handlers import handlers
from services.reporting.measures import (
    Counter,
    DeadlineFacts,
    PetitionFacts,
    Query,
    definitions,
    end_of,
)
from services.reporting.models import ReportDeadline, ReportPetition, ReportStep
from shared.db import transaction
from shared.directory import Directory, DirectoryCache
from shared.events import Envelope, InboxEvent, OutboxEvent, handle_once
from shared.security import Principal
from shared.timeutil import iso_china
from shared.visibility import covers_unit, visible_petitions

STAGES = ("reminded", "urged", "supervised", "accountability")
STREAM = 2_000  # rows fetched at a time


def _petition_facts(row: ReportPetition) -> PetitionFacts:
    return PetitionFacts(
        petition_id=row.petition_id,
        received_at=row.received_at,
        received_on=row.received_on,
        channel=row.channel,
        type=row.type,
        category=row.category,
        division_code=row.division_code,
        people_count=row.people_count,
        repeat_of=row.repeat_of,
        repeated_at=row.repeated_at,
        decision=row.decision,
        lead_unit=row.lead_unit,
        lead_level=row.lead_level,
        collective=row.collective,
        skip_level=row.skip_level,
        replied_at=row.replied_at,
        replied_on=row.replied_on,
        rating=row.rating,
        evaluated_on=row.evaluated_on,
        review_requested_at=row.review_requested_at,
        reviewed_on=row.reviewed_on,
        re_examination_requested_at=row.re_examination_requested_at,
    )


def _deadline_facts(row: ReportDeadline) -> DeadlineFacts:
    return DeadlineFacts(
        petition_id=row.petition_id,
        base_step=row.base_step,
        state=row.state,
        due_at=row.due_at,
        due_on=row.due_on,
        opened_at=row.opened_at,
        met_at=row.met_at,
        late=row.late,
        stages={s: getattr(row, f"{s}_at") for s in STAGES},
    )


def unit_keys(who: Principal, directory: Directory, unit_id: str | None):  # type: ignore[no-untyped-def]
    """The units a petition led by `lead` counts for, rolled up the unit tree (a
    township's figures include its villages'), as far as the caller's view reaches."""
    within = directory.below(unit_id) if unit_id else None

    known: dict[str, list[str]] = {}  # worked out once per lead unit, not per row

    def keys(lead: str | None) -> list[str]:
        if not lead:
            return ["unrouted"]
        if lead not in known:
            chain = [lead, *directory.superiors(lead)]
            known[lead] = [
                u
                for u in chain
                if (within is None or u in within) and covers_unit(who, u, directory)
            ] or [lead]
        return known[lead]

    return keys


def statistics(
    session: Session,
    *,
    who: Principal,
    directory: Directory,
    query: Query,
    unit_id: str | None,
) -> dict[str, Any]:
    """The figures of the period over the petitions `who` may see (and, with `unit_id`,
    those that unit or a unit below it leads)."""
    visible = visible_petitions(who, directory)
    first, last = query.start, query.end
    stands_at = min(end_of(last), query.now)
    begins = end_of(first - timedelta(days=1))
    mine = [ReportPetition.petition_id.in_(visible)]
    if unit_id:
        mine.append(ReportPetition.lead_unit.in_(sorted(directory.below(unit_id))))
    counter = Counter(query, unit_keys(who, directory, unit_id))
    # Streamed: what is held is the groups' tallies, never the period's petitions.
    dated = or_(
        ReportPetition.received_on.between(first, last),
        ReportPetition.replied_on.between(first, last),
        ReportPetition.evaluated_on.between(first, last),
        ReportPetition.reviewed_on.between(first, last),
    )
    for row in session.scalars(
        select(ReportPetition).where(*mine, dated).execution_options(yield_per=STREAM)
    ):
        counter.add_petition(_petition_facts(row))
    # clocks: those counted by their due day, those of the period's petitions, and
    # those still open (overdue) at some point of the period
    clocks = (
        select(ReportDeadline, ReportPetition)
        .join(ReportPetition, ReportPetition.petition_id == ReportDeadline.petition_id)
        .where(
            *mine,
            or_(
                ReportDeadline.due_on.between(first, last),
                ReportPetition.received_on.between(first, last),
                (ReportDeadline.due_at < stands_at)
                & or_(ReportDeadline.met_at.is_(None), ReportDeadline.met_at > begins),
            ),
        )
    )
    for clock, row in session.execute(clocks.execution_options(yield_per=STREAM)):
        facts, clock_facts = _petition_facts(row), _deadline_facts(clock)
        counter.add_deadline(facts, clock_facts)
        counter.add_overdue(facts, clock_facts)
    returns = (
        select(ReportStep.on, ReportPetition)
        .join(ReportPetition, ReportPetition.petition_id == ReportStep.petition_id)
        .where(*mine, ReportStep.kind == "returned", ReportStep.on.between(first, last))
    )
    for on, row in session.execute(returns.execution_options(yield_per=STREAM)):
        counter.add_return(_petition_facts(row), on)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "group_by": list(query.group_by),
        "unit_id": unit_id,
        "as_of": iso_china(stands_at),
        "groups": counter.groups(),
        "definitions": definitions(query.repeat_window_days),
    }


def rebuild(factory: sessionmaker[Session], directories: DirectoryCache) -> int:
    """Empty the read model and replay every stored event through the same handlers,
    in the order they were stored; returns how many events were applied."""
    subscribed = handlers(directories)
    consumers = [c for c, _, _ in subscribed]
    with transaction(factory) as session:
        for model in (ReportPetition, ReportDeadline, ReportStep):
            session.execute(delete(model))
        session.execute(delete(InboxEvent).where(InboxEvent.consumer.in_(consumers)))
    applied = 0
    for envelope in _stored_events(factory):
        for consumer, types, handler in subscribed:
            if envelope.type in types and handle_once(factory, consumer, handler, envelope):
                applied += 1
    return applied


def _stored_events(factory: sessionmaker[Session]) -> Iterator[Envelope]:
    last = 0
    while True:
        with factory() as session:
            rows = session.execute(
                select(OutboxEvent.seq, OutboxEvent.envelope)
                .where(OutboxEvent.seq > last)
                .order_by(OutboxEvent.seq)
                .limit(500)
            ).all()
        if not rows:
            return
        for seq, doc in rows:
            last = seq
            yield Envelope.from_json(doc)
