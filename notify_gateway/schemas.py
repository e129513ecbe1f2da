"""The notify gateway's HTTP shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints


class NoticeRead(BaseModel):
    id: int
    petition_id: str
    kind: str = Field(examples=["receipt"])
    channel: str = Field(examples=["inbox"], description="inbox / sms / email / wechat / webhook")
    recipient: str = Field(examples=["petitioner:K7QM-4TZP-9WXA"])
    subject: str = Field(examples=["您的信访事项已登记"])
    body: str
    stage: str | None = Field(
        default=None,
        examples=["urged"],
        description="催办阶段（仅催办类通知）：reminded / urged / supervised / accountability",
    )
    state: str = Field(
        examples=["delivered"], description="pending / sent / delivered / failed / dead"
    )
    attempts: int
    urgent: bool = False
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None
    next_attempt_at: datetime | None = None


class SubscriptionIn(BaseModel):
    model_config = {"extra": "forbid"}

    system: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        examples=["12345热线平台"],
        description="订阅方为已登记的外部系统（xinfang apikey create --system …）时填写",
    )
    unit_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        examples=["qinghe.hrss"],
        description="订阅方为本辖区的单位时填写；两者都不填则为管理员本单位",
    )
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=500)] = Field(
        examples=["https://12345.example.gov.cn/xinfang/events"]
    )
    event_types: list[str] = Field(
        min_length=1, max_length=50, examples=[["cn.xinfang.petition.replied"]]
    )


class SubscriptionRead(BaseModel):
    id: int
    system: str | None = Field(description="订阅方外部系统")
    unit_id: str | None = Field(description="订阅方单位")
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        description="HMAC-SHA256 签名密钥，只返回这一次；"
        "签名为 X-Xinfang-Signature: sha256=HMAC(secret, f'{X-Xinfang-Timestamp}.{body}')"
    )


class PreviewIn(BaseModel):
    model_config = {"extra": "forbid"}

    context: dict[str, Any] = Field(default_factory=dict)


class PreviewRead(BaseModel):
    kind: str
    subject: str
    body: str
    sms_segments: int = Field(description="按 70 字一条（长短信 67 字一条）计的短信条数")
