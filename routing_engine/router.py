"""The routing engine's HTTP endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from routing_engine.rules.catalogue import catalogue
from routing_engine.schemas import Routing
from routing_engine.service import simulate
from shared.errors import validation_problem
from shared.petition import EXAMPLE_BODY, PetitionBody, resolve_references
from shared.security import Principal
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1/routing", tags=["分办规则"])
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
    decision = simulate(petition=petition, ruleset=request.app.state.ruleset, directory=directory)
    return decision.routing()


@router.get(
    "/catalog", summary="规则目录：可用的变量、运算符与动作（business-rules export_rule_data）"
)
def rule_catalog(_: Staff) -> dict[str, Any]:
    return catalogue()
