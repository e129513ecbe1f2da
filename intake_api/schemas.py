"""The intake's HTTP shapes: each channel's body is the petition body plus its own fields."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

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


QR_KINDS = {"construction_site": "工地", "housing_estate": "小区", "village": "村", "other": "其他"}


class QrSiteIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: Text = Field(min_length=1, max_length=100, examples=["红星村安置房工地"])
    kind: Literal["construction_site", "housing_estate", "village", "other"] = Field(
        examples=["construction_site"],
        description="construction_site 工地、housing_estate 小区、village 村、other 其他",
    )
    division_code: Text = Field(pattern=r"^\d{12}$", examples=["990101100201"])
    unit_id: Text = Field(
        min_length=1, max_length=100, examples=["qinghe.qingshi.gov"], description="责任单位"
    )
    expires_in_days: int | None = Field(default=None, ge=0, le=3650, strict=True, examples=[365])


class QrSiteRead(BaseModel):
    id: str
    name: str
    kind: str
    division_code: str
    unit_id: str
    expires_at: datetime | None
    revoked: bool
    scans: int
    submissions: int


class QrSiteCreated(QrSiteRead):
    token: str = Field(description="二维码中的签名令牌")
    url: str = Field(examples=["http://127.0.0.1:8000/api/v1/qr/Zm9v.YmFy"])


class QrLanding(BaseModel):
    """What a scan opens: the site, and where to submit."""

    site_name: str
    site_kind: str
    division_code: str
    division_name: str
    unit_name: str
    submit_url: str


class QrPetition(PetitionBody):
    """The petition body without a place: the code's site supplies it."""

    @field_validator("division_code", mode="before")
    @classmethod
    def _no_place(cls, v: object) -> None:
        if v not in (None, ""):
            raise ValueError("扫码信访的事发地由二维码所在地点确定，请勿填写区划代码")
        return None
