"""The intake's HTTP shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class PetitionReceipt(BaseModel):
    """What a petitioner gets back: keep the query code to follow the case."""

    id: str = Field(examples=["5f0c2b9e-8d1a-4c47-9a52-0a3c2f1e7d64"])
    query_code: str = Field(
        examples=["K7QM-4TZP-9WXA"], description="查询码：凭查询码和手机号查询办理进度"
    )
    status: str = Field(examples=["received"])
    received_at: datetime = Field(examples=["2026-11-28T10:15:00+08:00"])
