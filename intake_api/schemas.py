"""The intake's HTTP shapes: each channel's body is the petition body plus its own fields."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from shared.petition import PetitionBody, PetitionerIn, Text


class PetitionReceipt(BaseModel):
    """What a petitioner gets back: keep the query code to follow the case."""

    id: str = Field(examples=["5f0c2b9e-8d1a-4c47-9a52-0a3c2f1e7d64"])
    query_code: str = Field(
        examples=["K7QM-4TZP-9WXA"], description="查询码：凭查询码和手机号查询办理进度"
    )
    status: str = Field(examples=["received"])
    received_at: datetime = Field(examples=["2026-11-28T10:15:00+08:00"])


class HotlineTicket(PetitionBody):
    """A hotline ticket, typed by an operator or pushed by the hotline platform."""

    source_system: Text = Field(min_length=1, max_length=100, examples=["12345热线平台"])
    external_ref: Text = Field(
        min_length=1, max_length=100, examples=["GD20261128000123"], description="对方系统的工单号"
    )
    call_id: Text | None = Field(default=None, max_length=100, examples=["CALL-8823-01"])
    caller_phone: Text | None = Field(default=None, examples=["13800138000"])

    @field_validator("caller_phone")
    @classmethod
    def _caller(cls, v: str | None) -> str | None:
        if not v:
            return None
        digits = re.sub(r"[\s\-()（）]", "", v)
        if not re.fullmatch(r"\+?\d{3,20}", digits):
            raise ValueError("来电号码须为 3 至 20 位数字")
        return digits


class Letter(PetitionBody):
    """A letter (来信) registered by staff; the time limits run from its receipt."""

    postmarked_on: date | None = Field(
        default=None, examples=["2026-11-24"], description="邮戳日期"
    )
    received_at: AwareDatetime = Field(
        examples=["2026-11-26T09:30:00+08:00"], description="收信时间（期限自此起算）"
    )


class Visit(PetitionBody):
    """A visit (来访) registered at a reception hall."""

    representatives: list[PetitionerIn] = Field(
        default_factory=list,
        max_length=5,
        description="5 人以上的集体访须推选 1 至 5 名代表",
    )
