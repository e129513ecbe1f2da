"""The routing engine's HTTP shapes: the `routing` object of API.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Reason(BaseModel):
    rule: str = Field(examples=["competence_and_territory"])
    because: str = Field(
        examples=["「拖欠工资」事发地在清河县青石镇红星村……交清河县人力资源和社会保障局办理"]
    )


class Routing(BaseModel):
    decision: Literal["assign", "refer_down", "divert", "decline"] = Field(examples=["assign"])
    lead_unit: str | None = Field(examples=["qinghe.hrss"])
    assisting_units: list[str] = Field(default_factory=list)
    legal_channel: (
        Literal["litigation", "arbitration", "administrative_reconsideration", "police"] | None
    ) = None
    decline_reason: Literal["in_progress", "finalized"] | None = None
    flags: list[Literal["collective", "urgent", "repeat", "whistleblower"]] = Field(
        default_factory=list
    )
    reasons: list[Reason]
    ruleset_version: str = Field(examples=["qinghe-2026.11@70b9d276edb6"])
