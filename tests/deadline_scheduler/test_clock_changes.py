"""What moves a clock, pure: pauses are not counted, the extension runs on from the
period's last day, a collective visit's clock and ladder run in hours; and who is
told of each stage, by role and unit tree. `chinesecalendar` is the oracle."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from deadline_scheduler.clock import Pause, compute_due
from deadline_scheduler.ladder import COLLECTIVE_LADDER, stage_times
from deadline_scheduler.policies import DEFAULT_POLICIES, TimeLimitIn, policy_for
from deadline_scheduler.recipients import recipients
from shared.calendar import OfficialCalendar
from shared.directory import parse_directory_file, snapshot_of
from shared.timeutil import CHINA
from tests.conftest import DEMO_FILE

CAL = OfficialCalendar()
DIRECTORY = snapshot_of(parse_directory_file(DEMO_FILE.read_text(encoding="utf-8")))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def nth_workday_after(day: date, n: int, skip: set[date] = frozenset()) -> date:  # type: ignore[assignment]
    while n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day) and day not in skip:
            n -= 1
    return day


def test_a_pause_is_not_counted_in_working_days() -> None:
    start = at("2026-03-02T10:00")  # a Monday
    pause = Pause(at("2026-03-04T09:00"), at("2026-03-09T17:00"), "material")
    due = compute_due(start, 10, "working_days", CAL, pauses=[pause])
    paused = {date(2026, 3, d) for d in range(5, 10)}  # the day after it began … the day it ended
    assert due.due_at.date() == nth_workday_after(date(2026, 3, 2), 10, paused)
    assert due.basis["days_paused"] == [d.isoformat() for d in sorted(paused)]
    assert due.basis["pauses"][0]["kind"] == "material"
    unpaused = compute_due(start, 10, "working_days", CAL)
    assert (due.due_at - unpaused.due_at).days == 3  # Thu, Fri and Mon were not counted


def test_a_pause_in_calendar_days_adds_its_days_and_still_ends_on_a_working_day() -> None:
    start = at("2026-09-01T10:00")
    pause = Pause(at("2026-09-10T10:00"), at("2026-09-14T10:00"), "hearing")
    due = compute_due(start, 30, "calendar_days", CAL, pauses=[pause])
    # 30 days + 4 not counted = 2026-10-05, inside the National Day holiday: the
    # period ends on the first working day after it
    assert not chinese_calendar.is_workday(date(2026, 10, 5))
    expected = nth_workday_after(date(2026, 10, 5), 1)
    assert due.due_at.date() == expected == date(2026, 10, 8)


def test_an_unfinished_pause_does_not_move_the_date_yet() -> None:
    start = at("2026-03-02T10:00")
    ongoing = Pause(at("2026-03-04T09:00"), None)
    assert compute_due(start, 10, "working_days", CAL, pauses=[ongoing]).due_at == (
        compute_due(start, 10, "working_days", CAL).due_at
    )


def test_the_extension_runs_on_from_the_last_day_and_ends_on_a_working_day() -> None:
    start = at("2026-08-01T10:00")
    plain = compute_due(start, 15, "working_days", CAL)
    extended = compute_due(start, 15, "working_days", CAL, extension_days=30)
    last = plain.due_at.date()
    expected = last + timedelta(days=30)
    while not chinese_calendar.is_workday(expected):
        expected += timedelta(days=1)
    assert extended.due_at.date() == expected
    assert extended.basis["extension_days"] == 30


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_an_extension_ending_on_spring_festival_moves_past_it(year: int) -> None:
    festival = next(
        d
        for d in (date(year, 1, 20) + timedelta(days=i) for i in range(40))
        if chinese_calendar.get_holiday_detail(d)[1]
        == chinese_calendar.Holiday.spring_festival.value
    )
    # choose a start so that the 30 extra days land on the festival's first day
    last_day = festival - timedelta(days=30)
    while not chinese_calendar.is_workday(last_day):
        last_day -= timedelta(days=1)
    start = datetime.combine(last_day - timedelta(days=1), datetime.min.time(), tzinfo=CHINA)
    due = compute_due(start, 1, "working_days", CAL, extension_days=30)
    end = due.due_at.date()
    assert chinese_calendar.is_workday(end) and end >= last_day + timedelta(days=30)
    assert all(
        not chinese_calendar.is_workday(d)
        for d in (last_day + timedelta(days=30 + i) for i in range((end - last_day).days - 30))
    )


def test_a_clock_in_hours_adds_the_paused_time() -> None:
    start = at("2026-12-05T21:00")  # a Saturday night: hours run regardless
    due = compute_due(start, 24, "hours", CAL)
    assert due.due_at == at("2026-12-06T21:00")
    paused = Pause(at("2026-12-06T08:00"), at("2026-12-06T10:30"))
    assert compute_due(start, 24, "hours", CAL, pauses=[paused]).due_at == at("2026-12-06T23:30")


def test_the_collective_ladder_is_in_hours() -> None:
    due = at("2026-12-06T21:00")
    times = {s.name: t for s, t in stage_times(due, COLLECTIVE_LADDER, CAL)}
    assert times == {
        "reminded": at("2026-12-06T17:00"),
        "urged": due,
        "supervised": at("2026-12-06T23:00"),
        "accountability": at("2026-12-07T21:00"),
    }


def test_a_local_limit_by_level_wins_over_a_county_wide_one_and_the_default() -> None:
    overrides = {
        ("handle", "village"): TimeLimitIn(
            step="handle", level="village", length=5, unit="working_days"
        ),
        ("handle", ""): TimeLimitIn(step="handle", length=20, unit="working_days"),
    }
    assert policy_for("handle", "village", overrides).length == 5
    assert policy_for("handle", "county", overrides).length == 20
    assert policy_for("handle", "county", {}) == DEFAULT_POLICIES["handle"]
    assert DEFAULT_POLICIES["handle"].length == 60


def addresses(to: str, unit: str, leaders: tuple[str, ...] = ()) -> list[str]:
    return [r.address for r in recipients(to, unit, DIRECTORY, leaders)]


def test_each_stage_reaches_the_right_people_up_the_unit_tree() -> None:
    village = "qinghe.qingshi.hongxing"
    assert addresses("handler", village) == [f"unit:{village}:handler"]
    assert addresses("unit_and_head", village) == [
        f"unit:{village}:handler",
        f"unit:{village}:leader",
    ]
    assert addresses("superior_and_supervision", village) == [
        "unit:qinghe.qingshi.gov:leader",
        "unit:qinghe.petition_bureau:supervisor",
    ]
    # village cadres are managed by the township's discipline organ; county departments
    # by the county's
    assert addresses("discipline", village) == ["unit:qinghe.qingshi.discipline:handler"]
    assert addresses("discipline", "qinghe.hrss") == ["unit:qinghe.discipline:handler"]


def test_a_leader_in_charge_hears_from_the_urging_notice_on() -> None:
    leaders = ("qinghe.party_gov",)
    assert "unit:qinghe.party_gov:leader" not in addresses("handler", "qinghe.hrss", leaders)
    assert addresses("unit_and_head", "qinghe.hrss", leaders)[-1] == "unit:qinghe.party_gov:leader"
    # the superior is the same leader: told once
    sup = addresses("superior_and_supervision", "qinghe.hrss", leaders)
    assert sup.count("unit:qinghe.party_gov:leader") == 1


def test_the_unit_a_report_accuses_is_never_told() -> None:
    # a report against the petition bureau, handled elsewhere: its supervisors would
    # otherwise receive the supervision order about the report against themselves
    sup = [
        r.address
        for r in recipients(
            "superior_and_supervision",
            "qinghe.hrss",
            DIRECTORY,
            ("qinghe.petition_bureau",),
            hidden_from="qinghe.petition_bureau",
        )
    ]
    assert sup == ["unit:qinghe.party_gov:leader"]
