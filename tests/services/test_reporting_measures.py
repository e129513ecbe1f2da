"""The pure counting: periods and their buckets, rates with their parts."""

from __future__ import annotations

from datetime import date

import pytest

from services.reporting.measures import Tally, bucket, bucket_end


@pytest.mark.parametrize(
    ("day", "dimension", "label", "last"),
    [
        (date(2026, 11, 18), "day", "2026-11-18", date(2026, 11, 18)),
        (date(2026, 11, 18), "week", "2026-W47", date(2026, 11, 22)),
        (date(2027, 1, 1), "week", "2026-W53", date(2027, 1, 3)),  # ISO weeks cross years
        (date(2026, 2, 3), "month", "2026-02", date(2026, 2, 28)),
        (date(2026, 12, 31), "month", "2026-12", date(2026, 12, 31)),
        (date(2026, 8, 9), "quarter", "2026-Q3", date(2026, 9, 30)),
        (date(2026, 8, 9), "year", "2026", date(2026, 12, 31)),
    ],
)
def test_a_day_falls_in_its_bucket_and_the_bucket_ends_where_it_should(
    day: date, dimension: str, label: str, last: date
) -> None:
    assert bucket(day, dimension) == label
    assert bucket_end(label, dimension) == last


def test_a_rate_carries_its_parts_and_is_null_when_nothing_was_counted() -> None:
    t = Tally()
    for hit in (True, True, False):
        t.rate("timely_acceptance_rate", hit)
    m = t.measures()
    assert m["timely_acceptance_rate"] == {"value": 0.6667, "numerator": 2, "denominator": 3}
    assert m["on_time_reply_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    assert m["average_cycle_days"] is None and m["median_cycle_days"] is None
    assert m["overdue"] == {
        r: 0 for r in ("open", "reminded", "urged", "supervised", "accountability")
    }
