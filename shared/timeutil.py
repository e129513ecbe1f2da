"""Time: stored as UTC, shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_china(moment: datetime) -> datetime:
    """An aware instant in Asia/Shanghai (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA)


def iso_china(moment: datetime | None) -> str | None:
    return None if moment is None else to_china(moment).isoformat()
