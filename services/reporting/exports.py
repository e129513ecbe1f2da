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

from services.reporting.measures import MEASURES, RATES, RUNGS

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
    "average_cycle_days": "平均办理周期（天）",
    "median_cycle_days": "办理周期中位数（天）",
    "referred_down": "转送下级件数",
    "assigned": "交办件数",
    "supervision_orders": "督办单件数",
    "accountability_recommendations": "追责问责建议件数",
}
RUNG_NAMES = {
    "open": "超期未催办",
    "reminded": "超期已提醒",
    "urged": "超期已催办",
    "supervised": "超期已督办",
    "accountability": "超期已建议追责",
}


def measure_header() -> list[str]:
    out: list[str] = []
    for m in MEASURES:
        if m in RATES:
            name = MEASURE_NAMES[m]
            out += [name, f"{name}分子", f"{name}分母"]
        elif m == "overdue":
            out += [RUNG_NAMES[r] for r in RUNGS]
        else:
            out.append(MEASURE_NAMES[m])
    return out


def measure_cells(m: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for name in MEASURES:
        value = m[name]
        if name in RATES:
            out += [
                "" if value["value"] is None else value["value"],
                value["numerator"],
                value["denominator"],
            ]
        elif name == "overdue":
            out += [value[r] for r in RUNGS]
        else:
            out.append("" if value is None else value)
    return out


def header(group_by: Iterable[str]) -> list[str]:
    return [DIMENSION_NAMES[d] for d in group_by] + measure_header()


def row(group_by: Iterable[str], group: dict[str, Any]) -> list[Any]:
    return [group["key"].get(d, "") for d in group_by] + measure_cells(group["measures"])


ANNUAL_HEADER = ["部分", "项目", *measure_header()]


def annual_rows(report: dict[str, Any]) -> Iterator[list[Any]]:
    """The yearly report as one table: each line a part of it and what it is about."""
    year = report["year"]
    yield ["全年", str(year), *measure_cells(report["totals"]["this_year"])]
    yield ["上年", str(year - 1), *measure_cells(report["totals"]["previous_year"])]
    for part, key, title in (
        ("by_category", "category", "按类别"),
        ("by_channel", "channel", "按渠道"),
        ("by_type", "type", "按类型"),
        ("units_most_petitioned", "unit", "承办件数最多的单位"),
    ):
        for line in report[part]:
            yield [title, line[key], *measure_cells(line["measures"])]


def csv_lines(group_by: list[str], groups: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The statistics' CSV, line by line."""
    return csv_table(header(group_by), (row(group_by, g) for g in groups))


def csv_table(head: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """A CSV, line by line, the first with the BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(head)
    yield ("\ufeff" + flush()).encode("utf-8")
    for line in rows:
        writer.writerow(line)
        yield flush().encode("utf-8")


def xlsx_bytes(head: list[str], rows: Iterable[list[Any]], title: str) -> bytes:
    """A workbook of one sheet, written row by row (openpyxl's write-only mode) through
    a spooled temporary file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(head)
    for line in rows:
        sheet.append(line)
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
        book.save(out)
        out.seek(0)
        return out.read()
