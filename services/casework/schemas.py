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
    status_name: str | None = Field(default=None, examples=["已分办，待受理"])
    allowed_steps: list[str] = Field(
        default_factory=list,
        description="现在可以进行的步骤",
        examples=[["accept", "decline", "return"]],
    )
    leaders: list[str] = Field(default_factory=list, description="包案领导所在单位")


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
    text: str | None = Field(
        default=None, description="通知全文（kind 为 notice 时）", examples=[None]
    )


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


# --- the handling unit's steps ------------------------------------------------------


class StepDone(BaseModel):
    petition_id: str
    status: str = Field(examples=["handling"])
    status_name: str = Field(examples=["已受理，办理中"])
    allowed_steps: list[str] = Field(examples=[["extend", "pause", "reply"]])


class _Strict(BaseModel):
    model_config = {"extra": "forbid"}


class AcceptIn(_Strict):
    note: str | None = Field(default=None, max_length=2000, examples=["已联系施工单位核实"])


class DeclineIn(_Strict):
    reason: str = Field(min_length=5, max_length=2000, examples=["该事项已经人民法院判决生效"])
    legal_basis: str = Field(min_length=2, max_length=500, examples=["《信访工作条例》第三十一条"])


class ExtendIn(_Strict):
    days: int = Field(
        ge=1, le=30, strict=True, description="延长的日数，至多 30 日（第三十四条）", examples=[30]
    )
    reason: str = Field(min_length=5, max_length=2000, examples=["需等待劳动监察调查结果"])
    approved_by: str = Field(
        min_length=2, max_length=100, description="批准延期的单位负责人", examples=["王局长"]
    )


class PauseIn(_Strict):
    kind: Literal["hearing", "material"] = Field(
        description="hearing 举行听证；material 等待信访人补充材料", examples=["material"]
    )
    reason: str = Field(min_length=2, max_length=2000, examples=["请信访人补充劳动合同复印件"])


class HearingIn(_Strict):
    reason: str = Field(min_length=2, max_length=2000, examples=["定于 12 月 5 日举行听证"])


class ResumeIn(_Strict):
    note: str | None = Field(default=None, max_length=2000, examples=["信访人已补充材料"])


class OpinionIn(_Strict):
    """A written opinion: the reply (信访处理意见书), the review or the re-examination."""

    outcome: Literal["supported", "partly_supported", "not_supported"] = Field(
        description="supported 支持；partly_supported 部分支持；not_supported 不支持",
        examples=["supported"],
    )
    facts: str = Field(min_length=5, max_length=5000, examples=["经核实，施工单位拖欠工资属实"])
    legal_basis: str = Field(
        min_length=2, max_length=1000, examples=["《保障农民工工资支付条例》第三十条"]
    )
    opinion: str = Field(
        min_length=5, max_length=5000, examples=["责令施工总承包单位于 10 日内先行清偿"]
    )


class NoteIn(_Strict):
    text: str = Field(min_length=1, max_length=5000, examples=["已电话联系信访人，约定下周面谈"])


class LeaderIn(_Strict):
    unit_id: str = Field(
        min_length=1, max_length=100, description="包案领导所在单位", examples=["qinghe.party_gov"]
    )
