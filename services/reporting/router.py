"""The statistics endpoint: the measures, grouped, over what the caller may see."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from services.reporting import exports
from services.reporting.annual import annual_report
from services.reporting.measures import DIMENSIONS
from services.reporting.measures import Query as MeasureQuery
from services.reporting.service import statistics
from shared.errors import FieldError, validation_problem
from shared.security import Principal
from shared.timeutil import utcnow
from shared.visibility import covers_unit
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["统计"])
# Those judged by the figures and those who judge: supervisors, admins, leaders.
Judge = Annotated[Principal, Depends(require_staff("supervisor", "admin", "leader"))]
MAX_DAYS = 3 * 366
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_group_by(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    dims = tuple(d.strip() for d in value.split(",") if d.strip())
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise validation_problem(
            [
                FieldError(
                    "group_by", f"不能按 {'、'.join(unknown)} 分组；可选：{'、'.join(DIMENSIONS)}"
                )
            ]
        )
    if len(set(dims)) != len(dims):
        raise validation_problem([FieldError("group_by", "分组维度不能重复")])
    return dims


@router.get(
    "/statistics",
    summary="统计：及时受理率、按期答复率、满意率等考核指标，按单位、层级、类别、渠道、类型、区划、时间分组",
    responses={
        200: {
            "content": {"text/csv": {}, XLSX: {}},
            "description": "JSON（默认）、CSV（UTF-8 带 BOM）或 XLSX",
        }
    },
)
def get_statistics(
    request: Request,
    session: SessionDep,
    who: Judge,
    start: Annotated[date, Query(alias="from", description="起始日期（含），北京时间")],
    end: Annotated[date, Query(alias="to", description="截止日期（含）")],
    group_by: Annotated[
        str | None, Query(max_length=200, description="逗号分隔：unit,level,category,…,month")
    ] = None,
    unit_id: Annotated[
        str | None, Query(max_length=100, description="只统计该单位及其下级单位承办的")
    ] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query(description="输出格式")] = "json",
) -> Any:
    problems = []
    if end < start:
        problems.append(FieldError("to", "截止日期不能早于起始日期"))
    elif (end - start).days >= MAX_DAYS:
        problems.append(FieldError("to", "一次最多统计三年"))
    dims = parse_group_by(group_by)
    directory = request.app.state.directory.get(session)
    if unit_id is not None and not covers_unit(who, unit_id, directory):
        problems.append(FieldError("unit_id", f"单位 {unit_id} 不在本单位辖区内"))
    if problems:
        raise validation_problem(problems)
    settings = request.app.state.reporting_settings
    query = MeasureQuery(
        start=start,
        end=end,
        group_by=dims,
        now=utcnow(),
        repeat_window_days=settings.repeat_window_days,
    )
    answer = statistics(session, who=who, directory=directory, query=query, unit_id=unit_id)
    name = f"statistics-{start}-{end}"
    if format == "csv":
        return StreamingResponse(
            exports.csv_lines(list(dims), answer["groups"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            exports.xlsx_bytes(
                exports.header(dims), (exports.row(dims, g) for g in answer["groups"]), "统计"
            ),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return JSONResponse(answer)


@router.get(
    "/reports/annual",
    summary="年度信访工作报告（第四十一条）：总量与上年对比、按类别渠道类型、承办最多的单位、转送交办与督办追责",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "JSON、CSV 或 XLSX"}},
)
def get_annual_report(
    request: Request,
    session: SessionDep,
    who: Judge,
    year: Annotated[int, Query(ge=2000, le=2100, description="年份")],
    format: Annotated[Literal["json", "csv", "xlsx"], Query(description="输出格式")] = "json",
) -> Any:
    directory = request.app.state.directory.get(session)
    window = request.app.state.reporting_settings.repeat_window_days
    now = utcnow()

    def query_for(start: date, end: date, group_by: tuple[str, ...]) -> MeasureQuery:
        return MeasureQuery(
            start=start, end=end, group_by=group_by, now=now, repeat_window_days=window
        )

    def answer(query: MeasureQuery) -> dict[str, Any]:
        return statistics(session, who=who, directory=directory, query=query, unit_id=None)

    report = annual_report(year, answer, query_for)
    name = f"annual-report-{year}"
    if format == "csv":
        return StreamingResponse(
            exports.csv_table(exports.ANNUAL_HEADER, exports.annual_rows(report)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            exports.xlsx_bytes(
                exports.ANNUAL_HEADER, exports.annual_rows(report), f"{year}年度报告"
            ),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return JSONResponse(report)
