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
