"""The sweep: issue every ladder stage whose time has come, each exactly once.

A sweep claims due deadlines with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL;
SQLite serializes writers), records each stage and its event in the same
transaction, and moves the deadline's `next_stage_at` on. Two sweeps racing never
issue the same stage: they claim disjoint rows, and the unique (deadline, stage)
pair is the backstop. Sweeping again at the same instant issues nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from deadline_scheduler.ladder import Stage, due_stages, ladder_named
from deadline_scheduler.models import Deadline, DeadlineStage, PetitionLeader
from deadline_scheduler.policies import load_ladders
from deadline_scheduler.recipients import recipients
from shared.calendar import WorkCalendar
from shared.db import transaction
from shared.directory import Directory, load_snapshot
from shared.events import emit
from shared.timeutil import iso_china
from shared.visibility import set_parts

log = logging.getLogger("xinfang.scheduler.sweep")
SERVICE = "scheduler"
# Rendered as literals, so that the claim's condition matches the partial index's
# WHERE clause word for word: SQLite (and PostgreSQL's generic plans) use a partial
# index only then.
CLOSED = bindparam("closed", ("met", "paused"), expanding=True, literal_execute=True)


def stage_event_type(stage: Stage) -> str:
    return f"cn.xinfang.deadline.{stage.name}"


def _sweep_batch(
    session: Session, now: datetime, calendar: WorkCalendar, directory: Directory, batch: int
) -> tuple[int, int]:
    rows = session.scalars(
        select(Deadline)
        .where(
            Deadline.next_stage_at.is_not(None),
            Deadline.next_stage_at <= now,
            Deadline.state.notin_(CLOSED),
        )
        .order_by(Deadline.next_stage_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    # What the batch needs, in two queries rather than two per deadline.
    done: dict[int, set[str]] = defaultdict(set)
    leaders: dict[str, list[str]] = defaultdict(list)
    with session.no_autoflush:
        ids = [d.id for d in rows]
        for deadline_id, stage_name in session.execute(
            select(DeadlineStage.deadline_id, DeadlineStage.stage).where(
                DeadlineStage.deadline_id.in_(ids)
            )
        ):
            done[deadline_id].add(stage_name)
        for petition_id, unit_id in session.execute(
            select(PetitionLeader.petition_id, PetitionLeader.unit_id).where(
                PetitionLeader.petition_id.in_({d.petition_id for d in rows})
            )
        ):
            leaders[petition_id].append(unit_id)
    issued = 0
    ladders = load_ladders(session)
    for deadline in rows:
        ladder = ladder_named(ladders, deadline.basis.get("ladder"))
        ready, upcoming = due_stages(deadline.due_at, done[deadline.id], now, ladder, calendar)
        for stage in ready:
            told = recipients(
                stage.to,
                deadline.unit_id,
                directory,
                leaders[deadline.petition_id],
                hidden_from=deadline.hidden_from,
            )
            if stage.to == "discipline":
                # an accountability recommendation gives its organ a reason to see the case
                set_parts(
                    session, deadline.petition_id, "urged", [r.unit_id for r in told], replace=False
                )
            session.add(
                DeadlineStage(
                    deadline_id=deadline.id, stage=stage.name, issued_at=now, due_at=deadline.due_at
                )
            )
            emit(
                session,
                type=stage_event_type(stage),
                service=SERVICE,
                subject=deadline.petition_id,
                data={
                    "petition_id": deadline.petition_id,
                    "step": deadline.step,
                    "step_name": deadline.basis.get("policy", deadline.step),
                    "unit_id": deadline.unit_id,
                    "stage": stage.name,
                    "stage_title": stage.title,
                    "to": stage.to,
                    "recipients": [
                        {"unit_id": r.unit_id, "role": r.role, "address": r.address} for r in told
                    ],
                    "due_at": iso_china(deadline.due_at),
                    "issued_at": iso_china(now),
                    # so that every copy of the notice stays hidden from it, too
                    "accused_unit": deadline.hidden_from,
                },
            )
            deadline.state = stage.name
            issued += 1
        deadline.next_stage_at = upcoming
    return len(rows), issued


def sweep(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    calendar: WorkCalendar,
    directory: Directory | None = None,
    batch: int = 500,
) -> int:
    """Issue what is due as of `now`; returns how many stages were issued."""
    if directory is None:
        with factory() as session:
            directory = load_snapshot(session)
    total = 0
    conflicts = 0
    while True:
        try:
            with transaction(factory) as session:
                claimed, issued = _sweep_batch(session, now, calendar, directory, batch)
        except IntegrityError:
            # Another sweep issued one of these stages first: its work stands; look again.
            conflicts += 1
            if conflicts > 10:
                raise
            log.warning("a concurrent sweep issued a stage first; retrying the batch")
            continue
        total += issued
        if claimed < batch:
            return total
