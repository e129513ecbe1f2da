"""Time: stored as UTC, shown in Asia/Shanghai.

Every part of the system asks `utcnow()` for the time, so that a test can move the
whole process to another day (`travel_to`) and show that nothing depends on the
day it happens to run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

# How far this process's clock is set from the wall clock (zero but in tests).
_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


@contextmanager
def travel_to(moment: datetime) -> Iterator[None]:
    """Inside the block the clock reads `moment` at first, then runs on as usual."""
    global _offset
    if moment.tzinfo is None:
        raise ValueError("travel_to needs an aware instant")
    before = _offset
    _offset = moment - datetime.now(UTC)
    try:
        yield
    finally:
        _offset = before


def to_china(moment: datetime) -> datetime:
    """An aware instant in Asia/Shanghai (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA)


def as_china(moment: datetime) -> datetime:
    """An instant a person gave: naive values are Beijing time (not UTC)."""
    return moment.replace(tzinfo=CHINA) if moment.tzinfo is None else moment


def iso_china(moment: datetime | None) -> str | None:
    return None if moment is None else to_china(moment).isoformat()
