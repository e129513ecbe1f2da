"""Helpers for tests that drive the app over HTTP."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

EXAMPLE: dict[str, Any] = {
    "channel": "web",
    "petitioners": [
        {
            "name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13800138000",
            "address": "清河县青石镇红星村三组",
        }
    ],
    "anonymous": False,
    "title": "工地拖欠农民工工资",
    "content": "红星村安置房工地拖欠我们十二名工人三个月工资共计八万余元。",
    "type": "complaint",
    "category": "labor.wage_arrears",
    "division_code": "990101100201",
    "address": "清河县青石镇红星村安置房工地",
    "people_count": 1,
}


def petition(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE)
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
