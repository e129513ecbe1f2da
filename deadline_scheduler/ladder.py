"""The urging ladder (分级限时催办): when each stage of an open step falls due. Pure.

Each stage is a day relative to the deadline's last day, counted in working days,
and fires at the start of that day (Asia/Shanghai); a collective visit's ladder is in
hours from the due time. Stages are data: each policy names its ladder, and a county
may redefine a ladder or add its own in its time-limits file (DOMAIN.md: "The ladder
is configuration").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from shared.calendar import WorkCalendar
from shared.events import DEADLINE_STAGES
from shared.timeutil import CHINA, to_china


@dataclass(frozen=True)
class Stage:
    name: str  # the deadline state once issued: reminded, urged, supervised, accountability
    title: str
    # Working days from the deadline's last day: -3 is three working days before,
    # 0 the deadline day, +1 the first day overdue.
    offset_working_days: int
    to: str  # who is told: see deadline_scheduler.recipients
    # A ladder in hours: hours from the due time instead of working days.
    offset_hours: int | None = None


DEFAULT_LADDER: tuple[Stage, ...] = (
    Stage("reminded", "提醒（黄色）", -3, "handler"),
    Stage("urged", "催办（橙色）", 0, "unit_and_head"),
    Stage("supervised", "督办（红色）", 1, "superior_and_supervision"),
    Stage("accountability", "追责问责建议", 5, "discipline"),
)
# A collective visit cannot wait days: the same stages, hours apart.
COLLECTIVE_LADDER: tuple[Stage, ...] = (
    Stage("reminded", "提醒（黄色）", 0, "handler", offset_hours=-4),
    Stage("urged", "催办（橙色）", 0, "unit_and_head", offset_hours=0),
    Stage("supervised", "督办（红色）", 0, "superior_and_supervision", offset_hours=2),
    Stage("accountability", "追责问责建议", 0, "discipline", offset_hours=24),
)
Ladder = tuple[Stage, ...]
LADDERS: dict[str, Ladder] = {"default": DEFAULT_LADDER, "collective": COLLECTIVE_LADDER}
# A stage's title is its rung's, whatever ladder it is on.
TITLES = {stage.name: stage.title for stage in DEFAULT_LADDER}


def ladder_named(ladders: dict[str, Ladder], name: str | None) -> Ladder:
    """The ladder a deadline climbs; one no longer configured falls back to the default."""
    return ladders.get(name or "default") or ladders.get("default") or DEFAULT_LADDER


def ladder_from_data(stages: list[dict[str, Any]]) -> Ladder:
    """A county's ladder as stored (`deadline_scheduler.policies.LadderStageIn`)."""
    return tuple(
        Stage(
            name=s["stage"],
            title=TITLES[s["stage"]],
            offset_working_days=int(s.get("offset_working_days") or 0),
            to=s["to"],
            offset_hours=s.get("offset_hours"),
        )
        for s in stages
    )


def ladder_to_data(ladder: Ladder) -> list[dict[str, Any]]:
    return [
        {"stage": s.name, "title": s.title, "to": s.to}
        | (
            {"offset_hours": s.offset_hours}
            if s.offset_hours is not None
            else {"offset_working_days": s.offset_working_days}
        )
        for s in ladder
    ]


def shift_working_days(day: date, n: int, calendar: WorkCalendar) -> date:
    """The working day `n` working days after (n > 0) or before (n < 0) `day`;
    for n == 0, `day` itself."""
    step = 1 if n > 0 else -1
    left = abs(n)
    while left:
        day += timedelta(days=step)
        if calendar.is_workday(day)[0]:
            left -= 1
    return day


def stage_times(
    due_at: datetime, ladder: tuple[Stage, ...], calendar: WorkCalendar
) -> list[tuple[Stage, datetime]]:
    """When each stage fires, in ladder order."""
    last_day = to_china(due_at).date()
    return [
        (
            stage,
            to_china(due_at) + timedelta(hours=stage.offset_hours)
            if stage.offset_hours is not None
            else datetime.combine(
                shift_working_days(last_day, stage.offset_working_days, calendar),
                time(0),
                tzinfo=CHINA,
            ),
        )
        for stage in ladder
    ]


def next_stage_at(
    due_at: datetime, issued: set[str], ladder: tuple[Stage, ...], calendar: WorkCalendar
) -> datetime | None:
    """When the first stage still to come falls due; None when the ladder is done."""
    passed = climbed(issued)
    pending = [
        at for stage, at in stage_times(due_at, ladder, calendar) if stage.name not in passed
    ]
    return min(pending) if pending else None


def climbed(issued: set[str]) -> set[str]:
    """The rungs issued and every one below the highest of them: a ladder only climbs,
    even when a county adds a lower rung after a higher one went out (no reminder
    after the urging)."""
    highest = max((DEADLINE_STAGES.index(n) for n in issued if n in DEADLINE_STAGES), default=-1)
    return set(issued) | set(DEADLINE_STAGES[: highest + 1])


def due_stages(
    due_at: datetime,
    issued: set[str],
    now: datetime,
    ladder: tuple[Stage, ...],
    calendar: WorkCalendar,
) -> tuple[list[Stage], datetime | None]:
    """The stages to issue now (not yet issued, their time come), and when the next
    one falls due (None when the ladder is done)."""
    ready: list[Stage] = []
    upcoming: datetime | None = None
    passed = climbed(issued)
    for stage, at in stage_times(due_at, ladder, calendar):
        if stage.name in passed:
            continue
        if at <= now:
            ready.append(stage)
        elif upcoming is None or at < upcoming:
            upcoming = at
    return ready, upcoming
