"""The notify gateway's HTTP shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class NoticeRead(BaseModel):
    id: int
    petition_id: str
    kind: str = Field(examples=["receipt"])
    channel: str = Field(examples=["inbox"])
    recipient: str = Field(examples=["petitioner:K7QM-4TZP-9WXA"])
    subject: str = Field(examples=["您的信访事项已登记"])
    body: str
    state: str = Field(
        examples=["delivered"], description="pending / sent / delivered / failed / dead"
    )
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
