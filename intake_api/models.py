"""The intake's tables: the normalized petition, its people (protected), its attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, UTCDateTime


class Petition(Base):
    __tablename__ = "petition"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    query_code: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    title: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(100), index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    addressed_to: Mapped[str] = mapped_column(String(100))
    people_count: Mapped[int] = mapped_column(Integer, default=1)
    anonymous: Mapped[bool] = mapped_column(default=False)
    accused: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    prior: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    openid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # What the channel adds: a hotline's call id, a letter's postmark, a QR site…
    channel_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The staff member or system that registered it, when not the petitioner.
    registered_by: Mapped[str | None] = mapped_column(String(150), nullable=True)
    repeat_of: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # How missing fields were found (place from the address, category from the text)
    # and why this petition repeats an earlier one.
    normalization: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    people: Mapped[list[PetitionPerson]] = relationship(
        back_populates="petition", order_by="PetitionPerson.position", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[PetitionAttachment]] = relationship(
        back_populates="petition",
        order_by="PetitionAttachment.position",
        cascade="all, delete-orphan",
    )


class PetitionPerson(Base):
    """A petitioner. ID number and phone are stored encrypted, with keyed hashes to find them."""

    __tablename__ = "petition_person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(ForeignKey("petition.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # "petitioner", or "representative" of a collective visit
    role: Mapped[str] = mapped_column(String(20), default="petitioner")
    name: Mapped[str] = mapped_column(String(50))
    id_number_enc: Mapped[str | None] = mapped_column(String(200), nullable=True)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    phone_enc: Mapped[str | None] = mapped_column(String(200), nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)

    petition: Mapped[Petition] = relationship(back_populates="people")


class PetitionAttachment(Base):
    __tablename__ = "petition_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(ForeignKey("petition.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # The bytes live in the attachment storage under this key (their SHA-256).
    storage_key: Mapped[str] = mapped_column(String(64))

    petition: Mapped[Petition] = relationship(back_populates="attachments")


class ExternalTicket(Base):
    """A ticket pushed by another system: the same (system, reference) is one petition."""

    __tablename__ = "external_ticket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_system: Mapped[str] = mapped_column(String(100))
    external_ref: Mapped[str] = mapped_column(String(100))
    petition_id: Mapped[str] = mapped_column(ForeignKey("petition.id"))

    __table_args__ = (UniqueConstraint("source_system", "external_ref"),)


class QrSite(Base):
    """A place where a "scan to petition" code is posted: a building site, an estate,
    a village. Its code's token names the site; revoking bumps the token version."""

    __tablename__ = "qr_site"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    division_code: Mapped[str] = mapped_column(String(12))
    unit_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(150))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    scans: Mapped[int] = mapped_column(Integer, default=0)
    submissions: Mapped[int] = mapped_column(Integer, default=0)
