"""Casework's HTTP shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field


class DeadlineRead(BaseModel):
    step: str = Field(examples=["forward"])
    step_name: str = Field(examples=["登记、转送、交办"])
    unit_id: str | None = None
    due_at: datetime = Field(examples=["2026-12-14T23:59:59+08:00"])
    state: str = Field(
        examples=["open"],
        description="open / met / reminded / urged / supervised / accountability / paused",
    )
    provisional: bool = Field(description="期限所跨年份的节假日安排尚未载入，暂按周末计算")
    basis: dict[str, Any] = Field(description="期限如何算出：起算时间、期间、日历、跳过的日期")


class PetitionRead(BaseModel):
    id: str
    query_code: str | None
    status: str = Field(examples=["routed"])
    received_at: datetime | None
    channel: str | None = None
    title: str | None = None
    content: str | None = None
    type: str | None = None
    category: str | None = None
    division_code: str | None = None
    address: str | None = None
    addressed_to: str | None = None
    people_count: int | None = None
    anonymous: bool | None = None
    petitioners: list[dict[str, Any]] = Field(default_factory=list, description="个人信息已脱敏")
    accused: dict[str, Any] | None = None
    prior: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    repeat_of: str | None = Field(default=None, description="同一信访人同一事项的前案")
    normalization: dict[str, Any] = Field(
        default_factory=dict, description="系统如何补全事发地、类别，以及为何判定为重复信访"
    )
    routing: dict[str, Any] | None = Field(default=None, description="API.md 的 routing 对象")
    deadlines: list[DeadlineRead] = Field(default_factory=list)


class PetitionSummary(BaseModel):
    id: str
    query_code: str | None
    status: str
    title: str | None
    category: str | None
    lead_unit: str | None
    received_at: datetime | None
    next_due_at: datetime | None = None
    overdue: bool = False


class TimelineItem(BaseModel):
    at: datetime
    kind: str = Field(examples=["routed"])
    event_type: str = Field(examples=["cn.xinfang.petition.routed"])
    summary: str = Field(examples=["分办：交办，由清河县人力资源和社会保障局承办"])
    detail: dict[str, Any]


class PublicDeadline(BaseModel):
    step_name: str = Field(examples=["登记、转送、交办"])
    due_at: datetime
    state: str = Field(examples=["open"])


class PublicEvent(BaseModel):
    at: datetime
    kind: str = Field(examples=["routed"])
    summary: str = Field(examples=["分办：交办，由清河县人力资源和社会保障局承办"])


class TrackView(BaseModel):
    """What the petitioner sees: no internal notes, personal data masked."""

    query_code: str = Field(examples=["K7QM-4TZP-9WXA"])
    status: str = Field(examples=["routed"])
    status_name: str = Field(examples=["已分办"])
    title: str = Field(examples=["工地拖欠农民工工资"])
    received_at: datetime | None
    handling_unit: str | None = Field(examples=["清河县人力资源和社会保障局"])
    petitioners: list[str | None] = Field(examples=[["张*"]])
    deadlines: list[PublicDeadline]
    timeline: list[PublicEvent]


class EvaluationIn(BaseModel):
    model_config = {"extra": "forbid"}
    RATING_NAMES: ClassVar[dict[str, str]] = {
        "satisfied": "满意",
        "basically_satisfied": "基本满意",
        "dissatisfied": "不满意",
    }

    rating: Literal["satisfied", "basically_satisfied", "dissatisfied"] = Field(
        examples=["satisfied"]
    )
    comment: str | None = Field(default=None, max_length=1000, examples=["处理及时，工资已追回"])


class ReviewRequestIn(BaseModel):
    model_config = {"extra": "forbid"}

    kind: Literal["review", "re_examination"] = Field(
        default="review", description="review 复查（向上一级）；re_examination 复核（再上一级）"
    )
    reason: str = Field(
        min_length=1, max_length=2000, examples=["对答复意见不服，工资仍未足额发放"]
    )


class Accepted(BaseModel):
    status: str = Field(examples=["accepted"])
    window_closes_at: datetime | None = None
