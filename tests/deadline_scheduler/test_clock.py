"""Deadline arithmetic against `chinese_calendar` as an oracle (2024–2026), and the
provisional, weekends-only counting of a year whose schedule is not loaded (2027)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from chinese_calendar import Holiday

from deadline_scheduler.clock import OfficialCalendar, compute_due

CHINA = ZoneInfo("Asia/Shanghai")
ORACLE_FIRST = date(2024, 1, 1)
ORACLE_LAST = date(2026, 12, 31)
# Starts late enough in 2026 would run into 2027, which the oracle does not know.
LAST_ORACLE_START = date(2026, 12, 10)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def _holiday_week_days() -> list[date]:
    """Every day of the Spring Festival and National Day breaks, with a margin on each side."""
    out: set[date] = set()
    for day in _days(ORACLE_FIRST, LAST_ORACLE_START):
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        if on_holiday and name in (Holiday.spring_festival.value, Holiday.national_day.value):
            out.update(day + timedelta(n) for n in range(-2, 3))
    return sorted(d for d in out if ORACLE_FIRST <= d <= LAST_ORACLE_START)


def _makeup_workdays() -> list[date]:
    """Weekend days that are working days (调休上班)."""
    return [
        d
        for d in chinese_calendar.get_workdays(ORACLE_FIRST, ORACLE_LAST, include_weekends=True)
        if d.weekday() >= 5
    ]


def _sample_starts() -> list[date]:
    rng = random.Random(20260101)
    every = _days(ORACLE_FIRST, LAST_ORACLE_START)
    picked = set(rng.sample(every, 200))
    picked.update(_holiday_week_days())
    picked.update(d for d in _makeup_workdays() if d <= LAST_ORACLE_START)
    # and the days just before a make-up Saturday, so a count runs across it
    picked.update(d - timedelta(1) for d in _makeup_workdays() if d <= LAST_ORACLE_START)
    return sorted(picked)


STARTS = _sample_starts()


def oracle_calendar_days(start: date, length: int) -> date:
    day = start + timedelta(days=length)
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def oracle_working_days(start: date, length: int) -> date:
    workdays = chinese_calendar.get_workdays(
        start + timedelta(days=1),
        min(start + timedelta(days=60), ORACLE_LAST),
        include_weekends=True,
    )
    return workdays[length - 1]


def china_start(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CHINA)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=CHINA)


def test_the_sample_covers_the_hard_days():
    assert len(STARTS) >= 200
    assert date(2025, 10, 1) in STARTS and date(2025, 1, 29) in STARTS  # National Day, 春节
    assert date(2026, 2, 17) in STARTS
    makeups = _makeup_workdays()
    assert date(2026, 1, 4) in makeups  # a Sunday worked, per chinese_calendar
    assert all(d in STARTS for d in makeups if d <= LAST_ORACLE_START)


@pytest.mark.parametrize("start", STARTS, ids=str)
def test_fifteen_calendar_days_end_on_a_chinese_calendar_workday(start):
    due = compute_due(china_start(start), 15, "calendar_days", OfficialCalendar())
    expected = oracle_calendar_days(start, 15)
    assert due.due_at == end_of(expected)
    assert due.basis["last_day"] == expected.isoformat()
    assert due.provisional is False


@pytest.mark.parametrize("start", STARTS, ids=str)
def test_ten_working_days_end_on_the_tenth_chinese_calendar_workday(start):
    due = compute_due(china_start(start), 10, "working_days", OfficialCalendar())
    expected = oracle_working_days(start, 10)
    assert due.due_at == end_of(expected)
    assert due.provisional is False
    counted = [
        d
        for d in _days(start + timedelta(1), expected)
        if d.isoformat() not in due.basis["days_skipped"]
    ]
    assert len(counted) == 10
    assert all(chinese_calendar.is_workday(d) for d in counted)


def test_a_long_period_over_the_spring_festival_is_right():
    # 60 days from acceptance, the reply limit of art. 32
    start = date(2025, 12, 20)
    due = compute_due(china_start(start), 60, "calendar_days", OfficialCalendar())
    assert due.basis["last_day"] == oracle_calendar_days(start, 60).isoformat()


def test_a_period_over_national_day_skips_the_holiday_and_counts_the_makeup_saturday():
    start = date(2025, 9, 30)
    assert chinese_calendar.is_workday(date(2025, 10, 11))  # Saturday, worked
    due = compute_due(china_start(start), 5, "working_days", OfficialCalendar())
    skipped = set(due.basis["days_skipped"])
    assert {f"2025-10-0{n}" for n in range(1, 9)} <= skipped
    assert "2025-10-11" not in skipped
    assert due.basis["last_day"] == oracle_working_days(start, 5).isoformat()
    assert due.basis["last_day"] == "2025-10-14"


def test_a_calendar_period_ending_in_a_holiday_moves_to_the_next_workday_and_says_which_days():
    start = date(2025, 9, 16)  # + 15 = 2025-10-01, National Day
    due = compute_due(china_start(start), 15, "calendar_days", OfficialCalendar())
    assert due.basis["last_day"] == "2025-10-09"
    assert due.basis["days_skipped"] == [f"2025-10-0{n}" for n in range(1, 9)]


def test_the_due_time_is_the_last_second_of_the_last_day_in_china():
    due = compute_due(china_start(date(2025, 3, 3)), 15, "calendar_days", OfficialCalendar())
    assert due.due_at == datetime(2025, 3, 18, 23, 59, 59, tzinfo=CHINA)
    assert due.due_at.utcoffset() == timedelta(hours=8)
    assert due.due_at.astimezone(UTC) == datetime(2025, 3, 18, 15, 59, 59, tzinfo=UTC)


def test_a_late_evening_start_in_china_counts_from_the_china_date():
    # 23:30 in 清河 on 3 March is 15:30 UTC the same day; 00:30 on 4 March is 16:30 UTC on 3 March.
    late_china = compute_due(
        datetime(2025, 3, 3, 23, 30, tzinfo=CHINA), 15, "calendar_days", OfficialCalendar()
    )
    late_utc = compute_due(
        datetime(2025, 3, 3, 15, 30, tzinfo=UTC), 15, "calendar_days", OfficialCalendar()
    )
    assert late_china.due_at == late_utc.due_at == end_of(date(2025, 3, 18))
    after_midnight = compute_due(
        datetime(2025, 3, 3, 16, 30, tzinfo=UTC), 15, "calendar_days", OfficialCalendar()
    )
    assert after_midnight.due_at == end_of(date(2025, 3, 19))
    assert after_midnight.basis["start"].startswith("2025-03-04T00:30:00+08:00")


def test_a_naive_start_is_taken_as_utc():
    naive = compute_due(datetime(2025, 3, 3, 16, 30), 15, "calendar_days", OfficialCalendar())
    assert naive.due_at == end_of(date(2025, 3, 19))


def test_the_basis_shows_how_the_due_date_was_worked_out():
    start = datetime(2026, 2, 12, 10, 0, tzinfo=CHINA)  # just before 春节 2026
    due = compute_due(start, 10, "working_days", OfficialCalendar())
    basis = due.basis
    assert basis["start"] == "2026-02-12T10:00:00+08:00"
    assert basis["length"] == 10
    assert basis["unit"] == "working_days"
    assert basis["start_day_counted"] is False
    assert basis["last_day"] == oracle_working_days(date(2026, 2, 12), 10).isoformat()
    assert "2026-02-17" in basis["days_skipped"]  # 正月初一
    assert "2026-02-14" not in basis["days_skipped"]  # a make-up Saturday counts
    assert basis["provisional"] is False
    assert basis["calendar"] == "chinesecalendar"


def test_a_negative_period_is_refused():
    with pytest.raises(ValueError):
        compute_due(china_start(date(2025, 3, 3)), -1, "calendar_days", OfficialCalendar())


# --- a year whose schedule is not loaded (2027) ---------------------------------------


def test_chinese_calendar_does_not_know_2027():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_a_period_running_into_an_unknown_year_is_provisional_and_weekend_only():
    # 2026-12-25 is a Friday; 10 working days counting 2027-01-01 (a Friday) as a weekday.
    start = date(2026, 12, 25)
    assert all(chinese_calendar.is_workday(date(2026, 12, d)) for d in (28, 29, 30, 31))
    due = compute_due(china_start(start), 10, "working_days", OfficialCalendar())
    assert due.provisional is True
    assert due.basis["provisional"] is True
    assert due.basis["last_day"] == "2027-01-08"
    assert due.basis["days_skipped"] == ["2026-12-26", "2026-12-27", "2027-01-02", "2027-01-03"]


def test_a_calendar_period_ending_in_an_unknown_year_is_provisional():
    due = compute_due(china_start(date(2026, 12, 20)), 15, "calendar_days", OfficialCalendar())
    assert due.provisional is True
    assert due.basis["last_day"] == "2027-01-04"  # a Monday


def test_a_period_ending_before_the_unknown_year_is_not_provisional():
    due = compute_due(china_start(date(2026, 12, 1)), 15, "calendar_days", OfficialCalendar())
    assert due.provisional is False


def test_weekends_only_in_an_unknown_year_skips_saturdays_and_sundays():
    due = compute_due(china_start(date(2027, 1, 29)), 10, "working_days", OfficialCalendar())
    assert due.provisional is True
    assert due.basis["last_day"] == "2027-02-12"
    assert due.basis["days_skipped"] == ["2027-01-30", "2027-01-31", "2027-02-06", "2027-02-07"]


def test_loading_the_year_makes_it_non_provisional_and_honours_its_holidays():
    loaded = OfficialCalendar(overrides={date(2027, 1, 1): False}, loaded_years=frozenset({2027}))
    due = compute_due(china_start(date(2026, 12, 25)), 10, "working_days", loaded)
    assert due.provisional is False
    assert due.basis["last_day"] == "2027-01-11"
    assert "2027-01-01" in due.basis["days_skipped"]


def test_a_loaded_make_up_saturday_counts_as_a_working_day():
    makeup = date(2027, 2, 20)  # a Saturday
    loaded = OfficialCalendar(overrides={makeup: True}, loaded_years=frozenset({2027}))
    due = compute_due(china_start(date(2027, 2, 18)), 2, "working_days", loaded)
    assert due.basis["last_day"] == "2027-02-20"
    assert due.provisional is False


def test_a_loaded_holiday_at_the_end_of_a_calendar_period_moves_it_on():
    loaded = OfficialCalendar(overrides={date(2027, 1, 4): False}, loaded_years=frozenset({2027}))
    due = compute_due(china_start(date(2026, 12, 20)), 15, "calendar_days", loaded)
    assert due.provisional is False
    assert due.basis["last_day"] == "2027-01-05"
    assert due.basis["days_skipped"] == ["2027-01-04"]


def test_an_override_wins_over_chinese_calendar_in_a_known_year():
    # A local adjustment: the county closes offices on 2025-03-18 (a Tuesday).
    local = OfficialCalendar(overrides={date(2025, 3, 18): False})
    due = compute_due(china_start(date(2025, 3, 3)), 15, "calendar_days", local)
    assert due.basis["last_day"] == "2025-03-19"
    assert due.provisional is False
