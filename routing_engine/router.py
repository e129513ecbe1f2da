"""The routing engine's HTTP endpoints."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from sqlalchemy import select

from routing_engine import versions
from routing_engine.config import DEFAULT_RULESET
from routing_engine.models import RoutingDecision, RulesetVersion
from routing_engine.rules.catalogue import RulesetError, catalogue
from routing_engine.schemas import Routing
from routing_engine.service import simulate
from shared.errors import FieldError, ProblemError, validation_problem
from shared.petition import EXAMPLE_BODY, PetitionBody, resolve_references
from shared.security import Principal
from shared.timeutil import to_china
from shared.visibility import may_see, require_county_power, serves
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1/routing", tags=["分办规则"])
DEFAULT_EXAMPLE: dict[str, Any] = json.loads(DEFAULT_RULESET.read_text(encoding="utf-8"))
Staff = Annotated[Principal, Depends(require_staff())]


@router.post(
    "/simulate",
    response_model=Routing,
    summary="模拟分办：给出该信访事项此刻会得到的分办结果，不保存",
)
def simulate_routing(
    request: Request,
    session: SessionDep,
    _: Staff,
    body: Annotated[PetitionBody, Body(openapi_examples={"拖欠工资": {"value": EXAMPLE_BODY}})],
) -> dict[str, Any]:
    directory = request.app.state.directory.get(session)
    resolved, problems = resolve_references(body, directory)
    if problems:
        raise validation_problem(problems)
    petition = {**body.model_dump(mode="json"), **resolved}
    decision = simulate(
        session, petition=petition, default=request.app.state.ruleset, directory=directory
    )
    return decision.routing()


@router.get(
    "/catalog", summary="规则目录：可用的变量、运算符与动作（business-rules export_rule_data）"
)
def rule_catalog(_: Staff) -> dict[str, Any]:
    return catalogue()


# --- ruleset versions ------------------------------------------------------------


def check_serves(
    request: Request,
    session: SessionDep,
    who: Principal,
    jurisdiction: str,
    *,
    missing: int | None = None,
) -> None:
    """A county's rulesets are read by the staff of that county (and of the places
    above it); for anyone else a ruleset of it does not exist."""
    if serves(who, request.app.state.directory.get(session), jurisdiction):
        return
    if missing is not None:
        raise ProblemError(404, f"规则集版本 {missing} 不存在")
    raise ProblemError(403, f"无权查看辖区 {jurisdiction} 的规则集")


Admin = Annotated[Principal, Depends(require_staff("admin"))]
Reader = Annotated[Principal, Depends(require_staff("admin", "supervisor", "registrar"))]
Jurisdiction = Annotated[str, Query(pattern=r"^\d{12}$", description="辖区（县级区划代码）")]
RulesetId = Annotated[int, Path(ge=1, le=2_000_000_000, description="规则集版本编号")]


def _out(row: RulesetVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "jurisdiction": row.jurisdiction,
        "version": row.version,
        "label": f"{row.version}@{row.digest}",
        "state": row.state,
        "created_at": to_china(row.created_at),
        "created_by": row.created_by,
        "activated_at": to_china(row.activated_at) if row.activated_at else None,
        "golden_report": row.golden_report,
    }


@router.post(
    "/rulesets",
    status_code=201,
    summary="保存规则集新版本（保存时即按规则目录整体校验，错误逐条给出路径）",
)
def save_ruleset(
    request: Request,
    session: SessionDep,
    who: Admin,
    doc: Annotated[
        dict[str, Any], Body(openapi_examples={"默认规则集": {"value": DEFAULT_EXAMPLE}})
    ],
    jurisdiction: Jurisdiction = "990101000000",
) -> dict[str, Any]:
    directory = request.app.state.directory.get(session)
    if jurisdiction not in directory.divisions:
        raise validation_problem([FieldError("jurisdiction", f"区划 {jurisdiction} 不在目录中")])
    require_county_power(who, directory, jurisdiction)
    try:
        row = versions.save(session, doc=doc, jurisdiction=jurisdiction, actor=who.label)
    except RulesetError as exc:
        raise validation_problem(
            [FieldError(path, message) for path, message in exc.problems]
        ) from exc
    session.commit()
    return _out(row)


@router.get("/rulesets", summary="规则集版本列表")
def list_rulesets(
    request: Request,
    session: SessionDep,
    who: Reader,
    jurisdiction: Jurisdiction = "990101000000",
) -> list[dict[str, Any]]:
    check_serves(request, session, who, jurisdiction)
    rows = session.scalars(
        select(RulesetVersion)
        .where(RulesetVersion.jurisdiction == jurisdiction)
        .order_by(RulesetVersion.id)
    )
    return [_out(r) for r in rows]


@router.get("/rulesets/{ruleset_id:int}", summary="规则集版本详情（含规则与黄金用例结果）")
def get_ruleset(
    request: Request, session: SessionDep, who: Reader, ruleset_id: RulesetId
) -> dict[str, Any]:
    row = versions.get(session, ruleset_id)
    check_serves(request, session, who, row.jurisdiction, missing=ruleset_id)
    return {**_out(row), "doc": row.doc}


@router.post("/rulesets/{ruleset_id:int}/test", summary="运行该版本的黄金用例")
def test_ruleset(
    request: Request, session: SessionDep, who: Admin, ruleset_id: RulesetId
) -> dict[str, Any]:
    row = versions.get(session, ruleset_id)
    directory = request.app.state.directory.get(session)
    check_serves(request, session, who, row.jurisdiction, missing=ruleset_id)
    require_county_power(who, directory, row.jurisdiction)
    passed = versions.test(session, row=row, directory=directory, actor=who.label)
    session.commit()
    return {**_out(row), "passed": passed}


@router.post(
    "/rulesets/{ruleset_id:int}/activate",
    summary="启用该版本（黄金用例须全部通过；原启用版本自动停用）",
)
def activate_ruleset(
    request: Request, session: SessionDep, who: Admin, ruleset_id: RulesetId
) -> dict[str, Any]:
    row = versions.get(session, ruleset_id)
    directory = request.app.state.directory.get(session)
    check_serves(request, session, who, row.jurisdiction, missing=ruleset_id)
    require_county_power(who, directory, row.jurisdiction)
    try:
        versions.activate(session, row=row, directory=directory, actor=who.label)
    except ProblemError:
        session.commit()  # the failed test run is on record
        raise
    session.commit()
    return _out(row)


@router.post("/rulesets/rollback", summary="回退到上一个启用过的版本")
def rollback_ruleset(
    request: Request,
    session: SessionDep,
    who: Admin,
    jurisdiction: Jurisdiction = "990101000000",
) -> dict[str, Any]:
    directory = request.app.state.directory.get(session)
    require_county_power(who, directory, jurisdiction)
    row = versions.rollback(
        session, jurisdiction=jurisdiction, directory=directory, actor=who.label
    )
    session.commit()
    return _out(row)


@router.get("/rulesets-audit", summary="规则集的保存、测试、启用、回退记录（谁、何时）")
def ruleset_audit(
    request: Request,
    session: SessionDep,
    who: Reader,
    jurisdiction: Jurisdiction = "990101000000",
) -> list[dict[str, Any]]:
    check_serves(request, session, who, jurisdiction)
    return [
        {
            "ruleset_id": a.ruleset_id,
            "action": a.action,
            "actor": a.actor,
            "at": to_china(a.at),
            "detail": a.detail,
        }
        for a in versions.audit_trail(session, jurisdiction)
    ]


@router.get(
    "/decisions/{petition_id}",
    summary="某信访事项的全部分办决定：读取的事实、逐条规则的结果与原因、规则集与目录版本",
)
def get_decisions(
    request: Request,
    session: SessionDep,
    who: Reader,
    petition_id: Annotated[str, Path(max_length=36, description="信访事项编号")],
) -> list[dict[str, Any]]:
    directory = request.app.state.directory.get(session)
    visible = may_see(session, who, petition_id, directory)
    rows = (
        session.scalars(
            select(RoutingDecision)
            .where(RoutingDecision.petition_id == petition_id)
            .order_by(RoutingDecision.round)
        ).all()
        if visible
        else []
    )
    if not rows:
        raise ProblemError(404, f"信访事项 {petition_id} 尚无分办决定")
    return [
        {
            "round": r.round,
            "decided_at": to_china(r.decided_at),
            "routing": r.routing,
            "facts": r.facts,
            "trace": r.trace,
            "units_used": r.units_used,
            "ruleset_version": r.ruleset_version,
            "directory_version": r.directory_version,
        }
        for r in rows
    ]
