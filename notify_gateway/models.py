"""The notify gateway's tables.

`notice`: one row per (event, channel, recipient), so a redelivered event never
produces a second notice; each row carries its own delivery state (pending, sent,
delivered, failed, dead), attempts and the time of its next try.
`notify_petition`: what the gateway knows of a petition to reach its petitioners
(their phones sealed with the data key, the mini-program openid) and whom to hide
its notices from. `webhook_subscription`: other government systems' endpoints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class Notice(Base):
    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    # "petitioner:<query code>", "unit:<unit id>[:<role>]" or "webhook:<subscription id>"
    recipient: Mapped[str] = mapped_column(String(150), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Urgent notices (a collective visit, emergencies) ignore quiet hours.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the channel delivers: a phone sealed with the data key, an e-mail address,
    # a subscriber URL or an openid. None for the inbox.
    address: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # A keyed hash of the SMS phone: one phone, one key, however it was sealed.
    address_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A dispatcher that claimed the notice owns it until then (a crashed one's lapse).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    hidden_from: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The rung of the urging ladder (reminded, urged, supervised, accountability).
    stage: Mapped[str | None] = mapped_column(String(30), nullable=True)

    __table_args__ = (
        UniqueConstraint("event_id", "channel", "recipient"),
        # The dispatcher's claim: what is due on a channel.
        Index("ix_notice_due", "channel", "state", "next_attempt_at"),
    )


class NotifyPetition(Base):
    __tablename__ = "notify_petition"

    petition_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    query_code: Mapped[str] = mapped_column(String(20))
    sealed_phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    openid: Mapped[str | None] = mapped_column(String(100), nullable=True)
    accused_unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    title: Mapped[str] = mapped_column(String(200), default="")


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The owner's name (its unit id or system), for people reading the list.
    system: Mapped[str] = mapped_column(String(100))
    # Who it speaks for, one of the two: it receives what that owner may see.
    owner_unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    owner_system: Mapped[str | None] = mapped_column(String(100), nullable=True)
    url: Mapped[str] = mapped_column(String(500))
    # The HMAC secret, sealed with the data key; shown to the subscriber once.
    secret_enc: Mapped[str] = mapped_column(String(300))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(150))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
