"""Working days in China: holidays and make-up working days (调休), and the Civil
Code's rule for periods (arts. 201, 203): the start day is not counted; a period
in working days skips weekends and holidays and counts make-up days; a period
whose last day is not a working day ends on the next working day.

Pure: the official schedule comes from `chinesecalendar` for the years it knows,
and from overrides (a loaded year, local adjustments) that take precedence. A
year known to neither is counted with weekends only and reported provisional.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, Protocol

PeriodUnit = Literal["calendar_days", "working_days"]


class WorkCalendar(Protocol):
    name: str

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is it a working day, is that known from an official schedule)."""
        ...


@dataclass
class OfficialCalendar:
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
class PeriodEnd:
    last_day: date
    skipped: tuple[date, ...]
    provisional: bool


def period_end(start_day: date, length: int, unit: PeriodUnit, calendar: WorkCalendar) -> PeriodEnd:
    """The last day of a period of `length` days that starts on `start_day`."""
    if length < 0:
        raise ValueError("a period cannot be negative")
    skipped: list[date] = []
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
                skipped.append(day)
    else:
        day = start_day + timedelta(days=length)
        while not workday(day):
            skipped.append(day)
            day += timedelta(days=1)
    return PeriodEnd(day, tuple(skipped), provisional)
