"""Deadline arithmetic: pure, no I/O. A deadline is the end (23:59:59 Asia/Shanghai)
of the period's last day, as `shared.calendar.period_end` counts it, with the basis
that shows how it was worked out: start, length, calendar, days skipped, pauses and
the extension. A period in hours (a collective visit's) runs on the clock instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from shared.calendar import OfficialCalendar, PeriodUnit, WorkCalendar, period_end
from shared.timeutil import CHINA, to_china

ClockUnit = Literal["calendar_days", "working_days", "hours"]
END_RULES = {
    "working_days": "按工作日计算，跳过周末和法定节假日，调休上班日计入",
    "calendar_days": "按自然日计算，期间最后一日为节假日的，顺延至节假日后的第一个工作日",
    "hours": "按小时计算，自登记时起连续计时",
}


@dataclass(frozen=True)
class Pause:
    """The clock stood still from `start` until `end` (None: it still does)."""

    start: datetime
    end: datetime | None
    kind: str = "material"

    def days(self) -> set[date]:
        """The days not counted: those after the day the pause began, up to and
        including the day it ended (that day, like a start day, is not counted)."""
        if self.end is None:
            return set()
        first, last = to_china(self.start).date(), to_china(self.end).date()
        return {first + timedelta(days=i) for i in range(1, (last - first).days + 1)}


@dataclass(frozen=True)
class Due:
    due_at: datetime
    provisional: bool
    basis: dict[str, Any]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=CHINA)


def compute_due(
    start: datetime,
    length: int,
    unit: ClockUnit,
    calendar: WorkCalendar,
    *,
    pauses: Sequence[Pause] = (),
    extension_days: int = 0,
) -> Due:
    """When a period of `length` (`unit`) that starts at `start` runs out, with the
    days of finished pauses not counted and an extension in calendar days added."""
    basis: dict[str, Any] = {
        "start": to_china(start).isoformat(),
        "start_day_counted": False,
        "length": length,
        "unit": unit,
        "calendar": calendar.name,
        "end_rule": END_RULES[unit],
        "pauses": [
            {
                "kind": p.kind,
                "start": to_china(p.start).isoformat(),
                "end": to_china(p.end).isoformat() if p.end else None,
            }
            for p in pauses
        ],
        "extension_days": extension_days,
    }
    if unit == "hours":
        stood = sum(((p.end - p.start) for p in pauses if p.end), timedelta())
        due_at = to_china(start) + timedelta(hours=length, days=extension_days) + stood
        basis.update(days_skipped=[], days_paused=[], provisional=False, due_at=due_at.isoformat())
        return Due(due_at=due_at, provisional=False, basis=basis)
    paused: set[date] = set().union(*(p.days() for p in pauses))
    end = period_end(to_china(start).date(), length, unit, calendar, paused)
    skipped, not_counted, provisional = list(end.skipped), list(end.paused), end.provisional
    day = end.last_day
    if extension_days:
        # Art. 34: the extension runs on from the last day of the period it extends.
        more = period_end(day, extension_days, "calendar_days", calendar, paused)
        day = more.last_day
        skipped += more.skipped
        not_counted += more.paused
        provisional = provisional or more.provisional
    basis.update(
        days_skipped=[d.isoformat() for d in skipped],
        days_paused=[d.isoformat() for d in not_counted],
        last_day=day.isoformat(),
        provisional=provisional,
    )
    return Due(due_at=end_of_day(day), provisional=provisional, basis=basis)


__all__ = [
    "ClockUnit",
    "Due",
    "OfficialCalendar",
    "Pause",
    "PeriodUnit",
    "WorkCalendar",
    "compute_due",
    "end_of_day",
]
