"""Deadline arithmetic: pure, no I/O.

The Civil Code's rule for periods (arts. 201, 203): the day the period starts
is not counted; a period in working days skips weekends and public holidays
and counts make-up working days (调休); a period whose last day is not a
working day ends on the next working day. Time is Asia/Shanghai. A year whose
official schedule is unknown is counted with weekends only and marked
provisional, so the system can warn until the year is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, Protocol

from shared.timeutil import CHINA, to_china

PeriodUnit = Literal["calendar_days", "working_days"]


class WorkCalendar(Protocol):
    name: str

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is it a working day, is that known from an official schedule)."""
        ...


@dataclass
class OfficialCalendar:
    """China's schedule: `chinesecalendar` for the years it knows, with overrides
    (a loaded year's schedule, local adjustments) that take precedence."""

    overrides: Mapping[date, bool] = field(default_factory=dict)
    loaded_years: frozenset[int] = frozenset()
    name: str = "chinesecalendar"

    def is_workday(self, day: date) -> tuple[bool, bool]:
        if day in self.overrides:
            return self.overrides[day], True
        if day.year not in self.loaded_years:
            try:
                import chinese_calendar

                return bool(chinese_calendar.is_workday(day)), True
            except NotImplementedError:
                pass
        known = day.year in self.loaded_years
        return day.weekday() < 5, known


@dataclass(frozen=True)
class Due:
    due_at: datetime
    provisional: bool
    basis: dict[str, Any]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=CHINA)


def compute_due(start: datetime, length: int, unit: PeriodUnit, calendar: WorkCalendar) -> Due:
    """When a period of `length` days (`unit`) that starts at `start` runs out."""
    if length < 0:
        raise ValueError("a period cannot be negative")
    start_day = to_china(start).date()
    skipped: list[str] = []
    provisional = False

    def workday(day: date) -> bool:
        nonlocal provisional
        ok, known = calendar.is_workday(day)
        provisional = provisional or not known
        return ok

    day = start_day
    if unit == "working_days":
        counted = 0
        while counted < length:
            day += timedelta(days=1)
            if workday(day):
                counted += 1
            else:
                skipped.append(day.isoformat())
        end_rule = "按工作日计算，跳过周末和法定节假日，调休上班日计入"
    else:
        day = start_day + timedelta(days=length)
        end_rule = "按自然日计算，期间最后一日为节假日的，顺延至节假日后的第一个工作日"
        while not workday(day):
            skipped.append(day.isoformat())
            day += timedelta(days=1)
    return Due(
        due_at=end_of_day(day),
        provisional=provisional,
        basis={
            "start": to_china(start).isoformat(),
            "start_day_counted": False,
            "length": length,
            "unit": unit,
            "calendar": calendar.name,
            "days_skipped": skipped,
            "end_rule": end_rule,
            "last_day": day.isoformat(),
            "provisional": provisional,
        },
    )
