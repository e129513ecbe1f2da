"""The audit log of reads of full personal data and of attachment downloads (PIPL):
which credential, what, when, why. Append-only: the migration makes the database
itself refuse to change or delete a row."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base, UTCDateTime
from shared.security import Principal
from shared.timeutil import utcnow

# What a read was: the full personal data, or an attachment's bytes.
ACTIONS = ("personal_data", "attachment")
REASON_MIN_CJK = 4
REASON_MIN_WORDS = 3
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]{2,}")


class PersonalDataRead(Base):
    __tablename__ = "personal_data_read"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_id: Mapped[str] = mapped_column(String(36), index=True)
    reader: Mapped[str] = mapped_column(String(150), index=True)
    # The token or API key that read it (credential.id): who, beyond the unit and role.
    credential_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(20), default="personal_data")
    fields: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def reason_problem(reason: str) -> str | None:
    """Why a reason given for reading personal data is not one, or None: it must say
    something (a few Chinese characters, or a few words), not be letters or spaces."""
    text = reason.strip()
    if len(_CJK.findall(text)) >= REASON_MIN_CJK or len(_WORD.findall(text)) >= REASON_MIN_WORDS:
        return None
    return (
        f"请写明查看理由（至少 {REASON_MIN_CJK} 个汉字或 {REASON_MIN_WORDS} 个词），"
        "如：电话回访核实诉求"
    )


def record_read(
    session: Session,
    *,
    petition_id: str,
    reader: Principal,
    fields: list[str],
    reason: str,
    action: str = "personal_data",
) -> None:
    """Written in the same transaction as the read it records: no read goes unlogged."""
    session.add(
        PersonalDataRead(
            petition_id=petition_id,
            reader=reader.label,
            credential_id=reader.credential_id,
            action=action,
            fields=",".join(fields),
            reason=reason.strip(),
            at=utcnow(),
        )
    )
