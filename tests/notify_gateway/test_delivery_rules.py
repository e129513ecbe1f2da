"""When a notice is tried (again): back-off with jitter, quiet hours, the rate limit. Pure."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from notify_gateway.delivery import quiet_until, rate_limited_until, retry_at
from shared.timeutil import CHINA

NOW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def delay(attempts: int, *, base: float = 30, cap: float = 3600, jitter: float = 0.2, r=0.5):
    moment = retry_at(attempts, NOW, base=base, cap=cap, jitter=jitter, rand=lambda: r)
    return (moment - NOW).total_seconds()


# --- back-off ---------------------------------------------------------------------------


def test_without_jitter_each_failure_doubles_the_wait():
    assert [delay(n, jitter=0) for n in range(1, 7)] == [30, 60, 120, 240, 480, 960]


def test_the_first_try_and_a_nonsensical_zeroth_wait_the_base():
    assert delay(1, r=0.5) == 30  # rand 0.5 is the middle of the spread: no change
    assert delay(0, jitter=0) == 30


def test_the_wait_is_capped():
    assert delay(7, jitter=0) == 1920
    assert delay(8, jitter=0) == 3600  # 3840 capped
    assert delay(50, jitter=0) == 3600  # the most attempts the settings allow


@pytest.mark.parametrize("attempts", [1, 2, 3, 5])
def test_jitter_spreads_the_wait_by_at_most_its_fraction_either_way(attempts: int):
    plain = delay(attempts, jitter=0)
    assert delay(attempts, r=0.0) == pytest.approx(plain * 0.8)
    assert delay(attempts, r=0.999999) == pytest.approx(plain * 1.2, rel=1e-5)
    assert delay(attempts, r=0.25) == pytest.approx(plain * 0.9)


def test_jitter_with_the_real_random_source_stays_in_bounds_and_does_spread():
    rng = random.Random(20260303)
    waits = [
        (retry_at(3, NOW, base=30, cap=3600, jitter=0.2, rand=rng.random) - NOW).total_seconds()
        for _ in range(2000)
    ]
    assert all(96 <= w <= 144 for w in waits)
    assert min(waits) < 100 and max(waits) > 140  # notices failed together spread out
    assert len(set(waits)) > 1000


def test_the_capped_wait_is_spread_too_so_capped_retries_do_not_move_in_step():
    assert delay(20, r=0.0) == pytest.approx(3600 * 0.8)
    assert delay(20, r=0.999999) == pytest.approx(3600 * 1.2, rel=1e-5)


def test_full_jitter_never_schedules_into_the_past():
    assert delay(4, jitter=1.0, r=0.0) == 0
    assert retry_at(4, NOW, base=30, cap=3600, jitter=1.0, rand=lambda: 0.0) == NOW


def test_retry_at_keeps_the_instant_aware_and_in_utc_arithmetic():
    local_now = NOW.astimezone(CHINA)
    moment = retry_at(1, local_now, base=30, cap=3600, jitter=0)
    assert moment.tzinfo is not None
    assert moment == NOW + timedelta(seconds=30)


# --- quiet hours (Asia/Shanghai) ----------------------------------------------------------


def china(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (china(3, 22, 0, 0), china(4, 8)),  # exactly 22:00: quiet starts
        (china(3, 23, 0), china(4, 8)),
        (china(3, 23, 59, 59), china(4, 8)),
        (china(4, 0, 0), china(4, 8)),  # after midnight: the same morning
        (china(4, 3, 30), china(4, 8)),
        (china(4, 7, 59, 59), china(4, 8)),
    ],
)
def test_a_time_in_the_quiet_hours_waits_for_eight_in_the_morning(now, until):
    got = quiet_until(now, 22, 8)
    assert got == until
    assert got.astimezone(CHINA).hour == 8 and got.astimezone(CHINA).minute == 0


@pytest.mark.parametrize(
    "now",
    [china(3, 8, 0, 0), china(3, 8, 0, 1), china(3, 12, 0), china(3, 21, 59, 59)],
)
def test_outside_the_quiet_hours_nothing_waits(now):
    assert quiet_until(now, 22, 8) is None  # exactly 08:00 is no longer quiet


def test_quiet_hours_are_reckoned_in_shanghai_whatever_zone_the_clock_gives():
    # 15:00 UTC is 23:00 in Shanghai; 23:00 UTC is already 07:00 the next morning there.
    assert quiet_until(datetime(2026, 3, 3, 15, 0, tzinfo=UTC), 22, 8) == china(4, 8)
    assert quiet_until(datetime(2026, 3, 3, 23, 0, tzinfo=UTC), 22, 8) == china(4, 8)
    assert quiet_until(datetime(2026, 3, 3, 0, 0, tzinfo=UTC), 22, 8) is None  # 08:00 there
    assert quiet_until(datetime(2026, 3, 3, 13, 59, tzinfo=UTC), 22, 8) is None  # 21:59


def test_quiet_hours_across_the_end_of_a_month_and_a_year():
    assert quiet_until(datetime(2026, 12, 31, 23, 0, tzinfo=CHINA), 22, 8) == datetime(
        2027, 1, 1, 8, 0, tzinfo=CHINA
    )
    assert quiet_until(datetime(2026, 2, 28, 22, 30, tzinfo=CHINA), 22, 8) == datetime(
        2026, 3, 1, 8, 0, tzinfo=CHINA
    )


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (china(3, 11, 59, 59), None),
        (china(3, 12, 0), china(3, 14)),
        (china(3, 13, 59, 59), china(3, 14)),
        (china(3, 14, 0), None),
        (china(3, 23, 0), None),
        (china(4, 1, 0), None),
    ],
)
def test_a_window_that_does_not_wrap_midnight(now, until):
    # A midday rest from 12:00 to 14:00: the end is the same day.
    assert quiet_until(now, 12, 14) == until


def test_a_window_from_midnight():
    assert quiet_until(china(3, 0, 0), 0, 6) == china(3, 6)
    assert quiet_until(china(3, 5, 59), 0, 6) == china(3, 6)
    assert quiet_until(china(3, 6, 0), 0, 6) is None
    assert quiet_until(china(3, 23, 59), 0, 6) is None


@pytest.mark.parametrize("hour", range(24))
def test_an_empty_window_is_never_quiet(hour: int):
    # start == end: no quiet hours at all (the dispatch tests switch them off so).
    assert quiet_until(china(3, hour, 30), 0, 0) is None
    assert quiet_until(china(3, hour, 30), 22, 22) is None


# --- per-recipient rate limit ---------------------------------------------------------------


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def test_under_the_limit_the_next_may_go_now():
    assert rate_limited_until([], NOW, 5) is None
    assert rate_limited_until([ago(1), ago(2), ago(3), ago(4)], NOW, 5) is None


def test_at_the_limit_the_next_waits_until_the_oldest_send_leaves_the_hour():
    sent = [ago(50), ago(10), ago(40), ago(30), ago(20)]  # in no particular order
    assert rate_limited_until(sent, NOW, 5) == ago(50) + timedelta(hours=1)
    assert rate_limited_until(sent, NOW, 5) == NOW + timedelta(minutes=10)


def test_over_the_limit_it_waits_until_the_count_drops_below_it():
    # Six sends, limit 2: five must leave the hour; the fifth-oldest goes at +50 min.
    sent = [ago(m) for m in (55, 50, 45, 20, 10, 5)]
    assert rate_limited_until(sent, NOW, 2) == ago(10) + timedelta(hours=1)


def test_sends_older_than_an_hour_do_not_count():
    sent = [ago(61), ago(90), ago(600), ago(30)]
    assert rate_limited_until(sent, NOW, 2) is None
    # exactly an hour ago has left the window
    assert rate_limited_until([ago(60), ago(30)], NOW, 2) is None
    assert rate_limited_until([ago(59.99), ago(30)], NOW, 2) == ago(59.99) + timedelta(hours=1)


def test_a_limit_of_one_spaces_messages_an_hour_apart():
    assert rate_limited_until([ago(15)], NOW, 1) == NOW + timedelta(minutes=45)


def test_the_wait_is_always_in_the_future_and_at_most_an_hour():
    rng = random.Random(7)
    for _ in range(500):
        sent = [ago(rng.uniform(0, 120)) for _ in range(rng.randint(0, 12))]
        limit = rng.randint(1, 6)
        until = rate_limited_until(sent, NOW, limit)
        in_hour = [t for t in sent if t > NOW - timedelta(hours=1)]
        if len(in_hour) < limit:
            assert until is None
        else:
            assert until is not None and NOW < until <= NOW + timedelta(hours=1)
            # at that moment fewer than `limit` sends remain in the hour before it
            assert sum(1 for t in sent if t > until - timedelta(hours=1)) < limit
