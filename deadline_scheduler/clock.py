"""Deadline arithmetic: pure, no I/O. A deadline is the end (23:59:59 Asia/Shanghai)
of the period's last day, as `shared.calendar.period_end` counts it, with the basis
that shows how it was worked out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from shared.calendar import OfficialCalendar, PeriodUnit, WorkCalendar, period_end
from shared.timeutil import CHINA, to_china


@dataclass(frozen=True)
class Due:
    due_at: datetime
    provisional: bool
    basis: dict[str, Any]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=CHINA)


def compute_due(start: datetime, length: int, unit: PeriodUnit, calendar: WorkCalendar) -> Due:
    """When a period of `length` days (`unit`) that starts at `start` runs out."""
    end = period_end(to_china(start).date(), length, unit, calendar)
    day, skipped, provisional = end.last_day, [d.isoformat() for d in end.skipped], end.provisional
    if unit == "working_days":
        end_rule = "按工作日计算，跳过周末和法定节假日，调休上班日计入"
    else:
        end_rule = "按自然日计算，期间最后一日为节假日的，顺延至节假日后的第一个工作日"
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


__all__ = ["Due", "OfficialCalendar", "PeriodUnit", "WorkCalendar", "compute_due", "end_of_day"]
