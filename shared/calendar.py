"""Working days in China: holidays and make-up working days (调休), and the Civil
Code's rule for periods (arts. 201, 203): the start day is not counted; a period
in working days skips weekends and holidays and counts make-up days; a period
whose last day is not a working day ends on the next working day.

The counting is pure: the official schedule comes from `chinesecalendar` for the
years it knows, and from overrides (a loaded year, local adjustments) that take
precedence. A year known to neither is counted with weekends only and reported
provisional. The loaded schedules are tables (`calendar_day`, `calendar_year`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import Boolean, Date, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base, UTCDateTime
from shared.timeutil import utcnow

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
    paused: tuple[date, ...] = ()


def period_end(
    start_day: date,
    length: int,
    unit: PeriodUnit,
    calendar: WorkCalendar,
    paused: Collection[date] = (),
) -> PeriodEnd:
    """The last day of a period of `length` days that starts on `start_day`. Days in
    `paused` (a hearing, waiting for material) are not counted."""
    if length < 0:
        raise ValueError("a period cannot be negative")
    skipped: list[date] = []
    not_counted: list[date] = []
    provisional = False

    def workday(day: date) -> bool:
        nonlocal provisional
        ok, known = calendar.is_workday(day)
        provisional = provisional or not known
        return ok

    day = start_day
    counted = 0
    while counted < length:
        day += timedelta(days=1)
        if day in paused:
            not_counted.append(day)
        elif unit == "calendar_days" or workday(day):
            counted += 1
        else:
            skipped.append(day)
    # A period whose last day is not a working day ends on the next working day (for a
    # period in working days the last day already is one).
    while not workday(day):
        skipped.append(day)
        day += timedelta(days=1)
    return PeriodEnd(day, tuple(skipped), provisional, tuple(not_counted))


# --- the schedule as data ------------------------------------------------------------


class CalendarDay(Base):
    """A day the official schedule makes a holiday (False) or a make-up working day (True)."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    year: Mapped[int] = mapped_column(Integer, index=True)


class CalendarYear(Base):
    """A year whose official schedule was loaded; the highest id is the calendar's version."""

    __tablename__ = "calendar_year"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(500))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduleFileError(ValueError):
    pass


def parse_schedule(text: str) -> tuple[int, dict[date, bool]]:
    """`{"year": 2027, "holidays": ["2027-01-01", …], "workdays": ["2027-02-07", …]}`:
    the State Council's schedule for a year (holidays, and weekend days worked)."""
    try:
        doc = json.loads(text)
        year = int(doc["year"])
        days: dict[date, bool] = {}
        for key, workday in (("holidays", False), ("workdays", True)):
            for item in doc.get(key, []):
                day = date.fromisoformat(item)
                if day.year != year:
                    raise ScheduleFileError(f"{key} 中的 {item} 不属于 {year} 年")
                if day in days:
                    raise ScheduleFileError(f"{item} 同时出现在节假日和调休上班日中")
                days[day] = workday
    except ScheduleFileError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ScheduleFileError(f"节假日安排文件格式不对：{exc}") from exc
    if not days:
        raise ScheduleFileError("节假日安排文件没有任何日期")
    return year, days


def load_schedule(session: Session, *, year: int, days: dict[date, bool], source: str) -> None:
    """Replace the year's schedule, in the caller's transaction."""
    for row in session.scalars(select(CalendarDay).where(CalendarDay.year == year)):
        session.delete(row)
    session.flush()
    for day, workday in sorted(days.items()):
        session.add(CalendarDay(day=day, workday=workday, year=year))
    session.add(CalendarYear(year=year, source=source, loaded_at=utcnow()))


class CalendarCache:
    """One calendar per process, reloaded when a schedule has been loaded since."""

    def __init__(self) -> None:
        self._version = -1
        self._calendar = OfficialCalendar()

    def get(self, session: Session) -> OfficialCalendar:
        version = (
            session.scalar(select(CalendarYear.id).order_by(CalendarYear.id.desc()).limit(1)) or 0
        )
        if version != self._version:
            overrides = {d.day: d.workday for d in session.scalars(select(CalendarDay))}
            years = frozenset(session.scalars(select(CalendarYear.year)))
            self._calendar = OfficialCalendar(overrides=overrides, loaded_years=years)
            self._version = version
        return self._calendar


def unknown_years(calendar: WorkCalendar, today: date) -> list[int]:
    """This year and the next, where the official schedule is not known."""
    return [y for y in (today.year, today.year + 1) if not calendar.is_workday(date(y, 6, 1))[1]]
