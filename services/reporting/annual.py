"""The yearly report of art. 41: the year's totals and measures beside the previous
year's; the petitions by category, channel and type; the units most complained to;
how many were forwarded (转送) and assigned (交办), and how many supervision
orders and accountability recommendations the urging ladder issued. Built from the
same statistics, over the same visible petitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from services.reporting.measures import Query

Statistics = Callable[[Query], dict[str, Any]]
TOP_UNITS = 10


def annual_report(
    year: int, statistics: Statistics, query_for: Callable[..., Query]
) -> dict[str, Any]:
    """`statistics(query)` answers one query (the caller's view already applied);
    `query_for(start, end, group_by)` makes one."""
    this = statistics(query_for(date(year, 1, 1), date(year, 12, 31), ()))
    last = statistics(query_for(date(year - 1, 1, 1), date(year - 1, 12, 31), ()))

    def by(dimension: str) -> list[dict[str, Any]]:
        answer = statistics(query_for(date(year, 1, 1), date(year, 12, 31), (dimension,)))
        rows = [
            {dimension: g["key"][dimension], "measures": g["measures"]}
            for g in answer["groups"]
            if g["measures"]["received"]
        ]
        return sorted(rows, key=lambda r: (-r["measures"]["received"], str(r[dimension])))

    units = [r for r in by("unit") if r["unit"] != "unrouted"]
    return {
        "year": year,
        "totals": {
            "this_year": this["groups"][0]["measures"],
            "previous_year": last["groups"][0]["measures"],
        },
        "by_category": by("category"),
        "by_channel": by("channel"),
        "by_type": by("type"),
        # the units that handled the most: a report counts for the organ handling it,
        # never for the unit it accuses
        "units_most_petitioned": units[:TOP_UNITS],
        "handling": _handling(this["groups"][0]["measures"]),
        "definitions": this["definitions"],
    }


def _handling(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "referred_down": m["referred_down"],
        "assigned": m["assigned"],
        "supervision_orders": m["supervision_orders"],
        "accountability_recommendations": m["accountability_recommendations"],
    }
