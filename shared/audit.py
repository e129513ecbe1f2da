"""The audit log of reads of full personal data (PIPL): who, what, when, why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base, UTCDateTime
from shared.security import Principal
from shared.timeutil import utcnow


class PersonalDataRead(Base):
    __tablename__ = "personal_data_read"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    reader: Mapped[str] = mapped_column(String(150))
    fields: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


def record_read(
    session: Session, *, petition_id: str, reader: Principal, fields: list[str], reason: str
) -> None:
    """Written in the same transaction as the read it records: no read goes unlogged."""
    session.add(
        PersonalDataRead(
            petition_id=petition_id,
            reader=reader.label,
            fields=",".join(fields),
            reason=reason,
            at=utcnow(),
        )
    )
