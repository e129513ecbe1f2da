"""Helpers for tests that drive the app over HTTP."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, TypeVar

from shared.petition import EXAMPLE_BODY

T = TypeVar("T")


def petition(**changes: Any) -> dict[str, Any]:
    """The example body of the API, with some fields changed."""
    body = copy.deepcopy(EXAMPLE_BODY)
    body.update(changes)
    return body


def petition_by(n: int, **changes: Any) -> dict[str, Any]:
    """The example body from the n-th of many different petitioners, so that it is
    not taken for a repeat of another's."""
    person = {"name": "王五", "phone": f"1390000{n:04d}", "address": "清河县青石镇红星村"}
    return petition(petitioners=[person], **changes)


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
