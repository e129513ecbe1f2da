"""When a notice is tried (again): back-off with jitter, quiet hours, the per-recipient
rate limit. Pure: the dispatcher supplies the clock and the history."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

from shared.timeutil import CHINA, to_china


def retry_at(
    attempts: int,
    now: datetime,
    *,
    base: float,
    cap: float,
    jitter: float,
    rand: Callable[[], float] = random.random,
) -> datetime:
    """After the `attempts`-th failed try: base·2^(attempts-1) seconds, at most `cap`,
    spread ±`jitter` so that notices failed together do not retry together."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    delay *= 1 + jitter * (2 * rand() - 1)
    return now + timedelta(seconds=max(0.0, delay))


def quiet_until(now: datetime, start_hour: int, end_hour: int) -> datetime | None:
    """The end of the quiet hours `now` falls in (Asia/Shanghai), or None."""
    local = to_china(now)
    hour = local.hour
    quiet = (
        (start_hour <= hour or hour < end_hour)
        if start_hour > end_hour
        else (start_hour <= hour < end_hour)
    )
    if not quiet:
        return None
    day = local.date() if hour < end_hour else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end_hour), tzinfo=CHINA)


def rate_limited_until(sent: Sequence[datetime], now: datetime, per_hour: int) -> datetime | None:
    """With `sent` the recipient's sends on the channel, when the next may go, or None
    if it may go now."""
    window = [t for t in sent if t > now - timedelta(hours=1)]
    if len(window) < per_hour:
        return None
    window.sort()
    return window[len(window) - per_hour] + timedelta(hours=1)
