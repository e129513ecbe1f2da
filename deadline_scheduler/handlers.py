"""The scheduler's event consumers: the steps of a petition start, stop, restart,
extend and end its clocks, as the policies (`policies.py`) say."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deadline_scheduler.models import ClockCursor, Deadline, ParkedStep, PetitionLeader
from deadline_scheduler.policies import DEFAULT_POLICIES, load_overrides, policy_for
from deadline_scheduler.service import (
    close_steps,
    extend_step,
    open_deadline,
    pause_open,
    resume_open,
    round_key,
)
from shared.bus import Bus
from shared.calendar import CalendarCache
from shared.db import insert_if_missing
from shared.directory import Directory, DirectoryCache
from shared.events import (
    CLOCK_STEP_EVENTS,
    LEADER_ASSIGNED,
    PETITION_ACCEPTED,
    PETITION_DECLINED,
    PETITION_EXTENDED,
    PETITION_PAUSED,
    PETITION_RESUMED,
    PETITION_RETURNED,
    PETITION_ROUTED,
    REVIEW_REQUESTED,
    Envelope,
)
from shared.timeutil import utcnow

log = logging.getLogger("xinfang.scheduler")
CONSUMER = "scheduler"
STEP_EVENTS = [PETITION_ROUTED, *CLOCK_STEP_EVENTS]
# Steps that end a routing round's acceptance clock.
ROUND_STEP_EVENTS = (PETITION_ACCEPTED, PETITION_DECLINED, PETITION_RETURNED)


@dataclass(frozen=True)
class Start:
    started_at: datetime
    unit_id: str | None
    step_key: str


def start_of(step: str, event: Envelope) -> Start | None:
    """Whether `event` starts the step's clock, and from when, for which unit."""
    data = event.data
    if event.type == PETITION_ROUTED:
        routing = data["routing"]
        round_ = data.get("round", 1)
        if routing["decision"] == "decline":
            return None  # declining a repeat is itself the answer; no step is open
        received = datetime.fromisoformat(data["received_at"])
        if step == "forward":
            # Registration → forwarding runs from receipt (art. 22), once.
            return Start(received, data.get("addressed_to"), step) if round_ == 1 else None
        if step == "accept":
            # The unit has 15 days from receiving it; a unit designated after a
            # return gets its own clock.
            return Start(event.time, routing.get("lead_unit"), round_key(step, round_))
        if step == "collective_response":
            collective = "collective" in (routing.get("flags") or [])
            return Start(received, routing.get("lead_unit"), step) if collective else None
        return None
    if event.type == PETITION_ACCEPTED and step == "handle":
        return Start(event.time, data.get("unit_id"), step)
    if event.type == REVIEW_REQUESTED:
        if step == "review" and data.get("kind") == "review":
            return Start(event.time, data.get("review_unit"), step)
        if step == "re_examination" and data.get("kind") == "re_examination":
            return Start(event.time, data.get("re_examination_unit"), step)
    return None


def _level(directory: Directory, unit_id: str | None) -> str | None:
    unit = directory.units.get(unit_id or "")
    return unit.level if unit else None


def register(bus: Bus, *, calendars: CalendarCache, directories: DirectoryCache) -> None:
    def on_step(session: Session, event: Envelope) -> None:
        """Apply a step to the petition's clocks in the order the steps were taken:
        one that arrives before a step it follows waits (parked) for it."""
        petition_id = event.data["petition_id"]
        # One handler at a time per petition, whichever replica and event type.
        insert_if_missing(session, ClockCursor, petition_id=petition_id, applied_seq=0)
        cursor = session.get(ClockCursor, petition_id, with_for_update=True, populate_existing=True)
        assert cursor is not None
        seq = event.data.get("clock_seq")
        if seq is None:  # routing's decision, or a step recorded before steps were numbered
            apply_step(session, event)
        elif seq <= cursor.applied_seq:
            return
        elif ready(session, event, cursor):
            apply_step(session, event)
            cursor.applied_seq = seq
        else:
            park(session, event, seq)
            return
        apply_parked(session, cursor)

    def ready(session: Session, event: Envelope, cursor: ClockCursor) -> bool:
        """The step before it has been applied, and an acceptance, refusal or return
        finds its round's acceptance clock opened by routing."""
        if event.data["clock_seq"] != cursor.applied_seq + 1:
            return False
        if event.type not in ROUND_STEP_EVENTS:
            return True
        key = round_key("accept", int(event.data.get("round") or 1))
        opened = session.scalar(
            select(Deadline.id).where(
                Deadline.petition_id == cursor.petition_id, Deadline.step == key
            )
        )
        return opened is not None

    def park(session: Session, event: Envelope, seq: int) -> None:
        log.info(
            "clock step %s (%s) of petition %s came early; waiting for step %d",
            seq,
            event.type,
            event.data["petition_id"],
            seq - 1,
        )
        insert_if_missing(
            session,
            ParkedStep,
            petition_id=event.data["petition_id"],
            seq=seq,
            event=event.to_json(),
            parked_at=utcnow(),
        )

    def apply_parked(session: Session, cursor: ClockCursor) -> None:
        """Apply, in order, the parked steps that are ready now."""
        parked = session.scalars(
            select(ParkedStep)
            .where(ParkedStep.petition_id == cursor.petition_id)
            .order_by(ParkedStep.seq)
        ).all()
        for row in parked:
            event = Envelope.from_json(row.event)
            if row.seq > cursor.applied_seq:
                if not ready(session, event, cursor):
                    return
                apply_step(session, event)
                cursor.applied_seq = row.seq
            session.delete(row)

    def apply_step(session: Session, event: Envelope) -> None:
        data = event.data
        petition_id = data["petition_id"]
        if event.type in (PETITION_PAUSED, PETITION_RESUMED, PETITION_EXTENDED):
            change_clock(session, event)
            return
        ended = tuple(p.step for p in DEFAULT_POLICIES.values() if event.type in p.ends_on)
        starting = [
            (p.step, s)
            for p in DEFAULT_POLICIES.values()
            if p.starts_on == event.type and (s := start_of(p.step, event)) is not None
        ]
        if starting:
            open_steps(session, event, starting)
        # After opening: routing both opens the forwarding clock and meets it.
        if ended:
            close_steps(
                session,
                petition_id=petition_id,
                steps=ended,
                at=event.time,
                round_=data.get("round"),
            )

    def change_clock(session: Session, event: Envelope) -> None:
        """A pause stops every open clock; its end and an extension move them on."""
        data, petition_id = event.data, event.data["petition_id"]
        if event.type == PETITION_PAUSED:
            pause_open(session, petition_id=petition_id, at=event.time, kind=data.get("kind", ""))
            return
        calendar, overrides = calendars.get(session), load_overrides(session)
        if event.type == PETITION_RESUMED:
            resume_open(
                session,
                petition_id=petition_id,
                at=event.time,
                calendar=calendar,
                overrides=overrides,
            )
        else:
            extend_step(
                session,
                petition_id=petition_id,
                step="handle",
                days=int(data["days"]),
                calendar=calendar,
                overrides=overrides,
            )

    def open_steps(session: Session, event: Envelope, starting: list[tuple[str, Start]]) -> None:
        directory, calendar = directories.get(session), calendars.get(session)
        overrides = load_overrides(session)
        for step, start in starting:
            level = _level(directory, start.unit_id)
            open_deadline(
                session,
                petition_id=event.data["petition_id"],
                policy=policy_for(step, level, overrides),
                started_at=start.started_at,
                unit_id=start.unit_id,
                level=level,
                calendar=calendar,
                event_id=event.id,
                step_key=start.step_key,
                hidden_from=event.data.get("accused_unit"),
            )

    def on_leader_assigned(session: Session, event: Envelope) -> None:
        petition_id, unit_id = event.data["petition_id"], event.data["leader_unit"]
        known = session.scalar(
            select(PetitionLeader.id).where(
                PetitionLeader.petition_id == petition_id, PetitionLeader.unit_id == unit_id
            )
        )
        if known is None:
            session.add(PetitionLeader(petition_id=petition_id, unit_id=unit_id))

    bus.subscribe(f"{CONSUMER}.on_step", STEP_EVENTS, on_step)
    bus.subscribe(f"{CONSUMER}.on_leader_assigned", [LEADER_ASSIGNED], on_leader_assigned)
