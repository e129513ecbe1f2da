"""The reporting service's event consumers: each event an upsert on the read model, so
that events may arrive in any order and a redelivered one changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.reporting.models import ReportDeadline, ReportPetition, ReportStep
from shared.bus import Bus
from shared.db import insert_if_missing
from shared.directory import Directory, DirectoryCache
from shared.events import (
    DEADLINE_OPENED,
    DEADLINE_RECOMPUTED,
    DEADLINE_STAGE_TYPES,
    PETITION_EVALUATED,
    PETITION_RECEIVED,
    PETITION_REPLIED,
    PETITION_RETURNED,
    PETITION_REVIEWED,
    PETITION_ROUTED,
    REVIEW_REQUESTED,
    Envelope,
)
from shared.timeutil import to_china

CONSUMER = "reporting"


def china_day(moment: datetime) -> date:
    return to_china(moment).date()


def _at(event: Envelope) -> datetime:
    """When the step happened: as the step says, else when it was announced."""
    stamp = event.data.get("at") or event.data.get("issued_at")
    return datetime.fromisoformat(stamp) if stamp else event.time


def _petition(session: Session, petition_id: str) -> ReportPetition:
    insert_if_missing(session, ReportPetition, petition_id=petition_id)
    row = session.get(ReportPetition, petition_id, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def on_petition_received(session: Session, event: Envelope) -> None:
    data = event.data
    row = _petition(session, data["petition_id"])
    row.received_at = datetime.fromisoformat(data["received_at"])
    row.received_on = china_day(row.received_at)
    row.channel = data.get("channel") or ""
    row.type = data.get("type") or ""
    row.category = data.get("category") or ""
    row.division_code = data.get("division_code") or ""
    row.people_count = int(data.get("people_count") or 1)
    row.repeat_of = data.get("repeat_of")
    if row.repeat_of:
        earlier = _petition(session, row.repeat_of)
        if earlier.repeated_at is None or row.received_at < earlier.repeated_at:
            earlier.repeated_at = row.received_at


def on_petition_routed(session: Session, event: Envelope, *, directory: Directory) -> None:
    data = event.data
    row = _petition(session, data["petition_id"])
    round_ = int(data.get("round") or 1)
    if round_ < row.routing_round:
        return  # an older decision arriving late: the newer one stands
    routing = data["routing"]
    row.routing_round = round_
    row.decision = routing.get("decision") or ""
    row.lead_unit = routing.get("lead_unit")
    unit = directory.units.get(row.lead_unit or "")
    row.lead_level = unit.level if unit else ""
    row.collective = "collective" in (routing.get("flags") or [])
    row.skip_level = row.decision == "refer_down"


def on_petition_replied(session: Session, event: Envelope) -> None:
    row = _petition(session, event.data["petition_id"])
    if row.replied_at is None:  # the first written reply counts
        row.replied_at = _at(event)
        row.replied_on = china_day(row.replied_at)


def on_petition_evaluated(session: Session, event: Envelope) -> None:
    row = _petition(session, event.data["petition_id"])
    row.rating = event.data.get("rating")
    row.evaluated_on = china_day(_at(event))


def on_review_requested(session: Session, event: Envelope) -> None:
    row = _petition(session, event.data["petition_id"])
    if event.data.get("kind") == "re_examination":
        row.re_examination_requested_at = row.re_examination_requested_at or _at(event)
    else:
        row.review_requested_at = row.review_requested_at or _at(event)


def on_petition_reviewed(session: Session, event: Envelope) -> None:
    row = _petition(session, event.data["petition_id"])
    row.reviewed_on = row.reviewed_on or china_day(_at(event))


def on_petition_returned(session: Session, event: Envelope) -> None:
    insert_if_missing(
        session,
        ReportStep,
        event_id=event.id,
        petition_id=event.data["petition_id"],
        kind="returned",
        on=china_day(_at(event)),
    )


def _deadline(session: Session, data: dict[str, Any]) -> ReportDeadline:
    due_at = datetime.fromisoformat(data["due_at"])
    insert_if_missing(
        session,
        ReportDeadline,
        petition_id=data["petition_id"],
        step=data["step"],
        base_step=data["step"].split("#", 1)[0],
        unit_id=data.get("unit_id"),
        due_at=due_at,
        due_on=china_day(due_at),
        state=data.get("state") or "open",
    )
    row = session.scalar(
        select(ReportDeadline)
        .where(
            ReportDeadline.petition_id == data["petition_id"], ReportDeadline.step == data["step"]
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def on_deadline_changed(session: Session, event: Envelope) -> None:
    """Opened, moved, paused, resumed or met: the clock as the scheduler has it now."""
    data = event.data
    row = _deadline(session, data)
    if row.state == "met" and data.get("state") != "met":
        return  # a change from before the step was done, arriving after it
    row.unit_id = data.get("unit_id")
    row.due_at = datetime.fromisoformat(data["due_at"])
    row.due_on = china_day(row.due_at)
    row.state = data.get("state") or row.state
    if event.type == DEADLINE_OPENED:
        row.opened_at = row.opened_at or event.time
    basis = data.get("basis") or {}
    if row.state == "met":
        met = basis.get("met_at")
        row.met_at = datetime.fromisoformat(met) if met else event.time
        row.late = bool(basis.get("late", row.met_at > row.due_at))


def on_deadline_stage(session: Session, event: Envelope) -> None:
    data = event.data
    row = _deadline(session, data)
    column = f"{data['stage']}_at"
    if hasattr(row, column) and getattr(row, column) is None:
        setattr(row, column, _at(event))


def handlers(directories: DirectoryCache) -> list[tuple[str, tuple[str, ...], Callable[..., None]]]:
    """(consumer, event types, handler) of the reporting service: what `register`
    subscribes and what `rebuild` replays."""

    def routed(session: Session, event: Envelope) -> None:
        on_petition_routed(session, event, directory=directories.get(session))

    return [
        (f"{CONSUMER}.on_petition_received", (PETITION_RECEIVED,), on_petition_received),
        (f"{CONSUMER}.on_petition_routed", (PETITION_ROUTED,), routed),
        (f"{CONSUMER}.on_petition_replied", (PETITION_REPLIED,), on_petition_replied),
        (f"{CONSUMER}.on_petition_evaluated", (PETITION_EVALUATED,), on_petition_evaluated),
        (f"{CONSUMER}.on_review_requested", (REVIEW_REQUESTED,), on_review_requested),
        (f"{CONSUMER}.on_petition_reviewed", (PETITION_REVIEWED,), on_petition_reviewed),
        (f"{CONSUMER}.on_petition_returned", (PETITION_RETURNED,), on_petition_returned),
        (
            f"{CONSUMER}.on_deadline_changed",
            (DEADLINE_OPENED, DEADLINE_RECOMPUTED),
            on_deadline_changed,
        ),
        (f"{CONSUMER}.on_deadline_stage", DEADLINE_STAGE_TYPES, on_deadline_stage),
    ]


def register(bus: Bus, *, directories: DirectoryCache) -> None:
    for consumer, types, handler in handlers(directories):
        bus.subscribe(consumer, types, handler)
