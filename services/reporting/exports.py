"""The statistics as tables people open: CSV (UTF-8 with a BOM, so that Excel reads
Chinese right) and XLSX, with Chinese column headers. Rows are written one at a time
as they are produced."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl import Workbook

from services.reporting.measures import COUNTS, RATES, RUNGS

DIMENSION_NAMES = {
    "unit": "单位",
    "level": "层级",
    "category": "类别",
    "channel": "渠道",
    "type": "类型",
    "division": "区划",
    "day": "日",
    "week": "周",
    "month": "月",
    "quarter": "季度",
    "year": "年",
}
MEASURE_NAMES = {
    "received": "收到件数",
    "collective": "集体访件数",
    "collective_people": "集体访人数",
    "forwarded_on_time_rate": "转送交办及时率",
    "timely_acceptance_rate": "及时受理率",
    "on_time_reply_rate": "按期答复率",
    "satisfaction_rate": "满意率",
    "evaluation_rate": "参评率",
    "first_time_resolution_rate": "一次性化解率",
    "repeat_rate": "重复信访率",
    "skip_level_rate": "越级信访率",
    "review_rate": "复查申请率",
    "re_examination_rate": "复核申请率",
    "returned": "退回次数",
}
RUNG_NAMES = {
    "open": "超期未催办",
    "reminded": "超期已提醒",
    "urged": "超期已催办",
    "supervised": "超期已督办",
    "accountability": "超期已建议追责",
}


def header(group_by: Iterable[str]) -> list[str]:
    out = [DIMENSION_NAMES[d] for d in group_by]
    out += [MEASURE_NAMES[m] for m in COUNTS if m != "returned"]
    for m in RATES:
        name = MEASURE_NAMES[m]
        out += [name, f"{name}分子", f"{name}分母"]
    out.append(MEASURE_NAMES["returned"])
    out += [RUNG_NAMES[r] for r in RUNGS]
    out += ["平均办理周期（天）", "办理周期中位数（天）"]
    return out


def row(group_by: Iterable[str], group: dict[str, Any]) -> list[Any]:
    m = group["measures"]
    out: list[Any] = [group["key"].get(d, "") for d in group_by]
    out += [m[c] for c in COUNTS if c != "returned"]
    for r in RATES:
        rate = m[r]
        out += [
            rate["value"] if rate["value"] is not None else "",
            rate["numerator"],
            rate["denominator"],
        ]
    out.append(m["returned"])
    out += [m["overdue"][r] for r in RUNGS]
    out += [
        "" if m["average_cycle_days"] is None else m["average_cycle_days"],
        "" if m["median_cycle_days"] is None else m["median_cycle_days"],
    ]
    return out


def csv_lines(group_by: list[str], groups: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The CSV, line by line, the first with the BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header(group_by))
    yield ("\ufeff" + flush()).encode("utf-8")
    for group in groups:
        writer.writerow(row(group_by, group))
        yield flush().encode("utf-8")


def xlsx_bytes(group_by: list[str], groups: Iterable[dict[str, Any]], title: str) -> bytes:
    """The workbook, written row by row (openpyxl's write-only mode) through a spooled
    temporary file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(header(group_by))
    for group in groups:
        sheet.append(row(group_by, group))
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
        book.save(out)
        out.seek(0)
        return out.read()
