"""Credentials (staff tokens, external systems' API keys) and personal-data protection.

Tokens and keys are random secrets shown once; only their SHA-256 is stored,
so a database leak yields nothing usable, and each can be revoked. Personal
data (ID numbers, phones) is stored encrypted with AES-GCM under a key derived
from XINFANG_SECRET_KEY, beside a keyed hash (HMAC-SHA256) for look-ups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base, UTCDateTime
from shared.timeutil import utcnow

ROLES = ("registrar", "handler", "supervisor", "admin", "leader")
Role = Literal["registrar", "handler", "supervisor", "admin", "leader"]
TOKEN_PREFIX = "xft_"
APIKEY_PREFIX = "xfk_"
# What an external system may read: the petitions it pushed itself, or also every other
# petition of its jurisdiction (reports never, unless it is a discipline organ's own).
READS = ("own", "jurisdiction")
# The channels a system may push petitions through.
SYSTEM_CHANNELS = ("hotline", "open311", "upper_level")


class Credential(Base):
    """A staff token or an external system's API key, by the hash of its secret."""

    __tablename__ = "credential"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))  # "token" | "apikey"
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    system: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ExternalSystem(Base):
    """Another government system (a 12345 platform, the provincial petition system…):
    the jurisdiction it serves, what it may read and push. Its API keys act for it."""

    __tablename__ = "external_system"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The division code of the county (or city, province) it serves.
    jurisdiction: Mapped[str] = mapped_column(String(12))
    reads: Mapped[str] = mapped_column(String(20), default="own")
    # Comma-separated, from SYSTEM_CHANNELS.
    channels: Mapped[str] = mapped_column(String(200), default="hotline")
    # The unit whose own system it is (a discipline organ's case system reads the
    # reports that organ handles); None for a system no unit owns.
    unit_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member of a unit in a role, or an external system with
    its scope (jurisdiction, what it reads, the channels it pushes, its owning unit)."""

    credential_id: int
    kind: str
    unit_id: str | None = None
    role: str | None = None
    system: str | None = None
    jurisdiction: str | None = None
    reads: str = "own"
    channels: tuple[str, ...] = ()

    @property
    def is_staff(self) -> bool:
        return self.kind == "token"

    @property
    def is_system(self) -> bool:
        return self.kind == "apikey"

    @property
    def label(self) -> str:
        if self.kind == "apikey":
            return f"system:{self.system}"
        return f"staff:{self.unit_id}:{self.role}"


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, *, unit_id: str, role: str) -> tuple[int, str]:
    """A new staff bearer token; returns (id, token). The token is not stored."""
    if role not in ROLES:
        raise ValueError(f"角色须为 {', '.join(ROLES)} 之一")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = Credential(
        kind="token",
        secret_hash=_hash_secret(token),
        unit_id=unit_id,
        role=role,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id, token


def register_system(
    session: Session,
    *,
    system: str,
    jurisdiction: str,
    reads: str = "own",
    channels: tuple[str, ...] = ("hotline",),
    unit_id: str | None = None,
) -> ExternalSystem:
    """Register an external system, or change the scope of one already registered."""
    system = system.strip()
    if not system:
        raise ValueError("系统名称不能为空")
    if not (len(jurisdiction) == 12 and jurisdiction.isdigit()):
        raise ValueError("辖区须为 12 位区划代码")
    if reads not in READS:
        raise ValueError(f"读取范围须为 {' 或 '.join(READS)}")
    unknown = [c for c in channels if c not in SYSTEM_CHANNELS]
    if unknown or not channels:
        raise ValueError(f"渠道须为 {'、'.join(SYSTEM_CHANNELS)} 中的一个或多个")
    row = session.get(ExternalSystem, system)
    if row is None:
        row = ExternalSystem(name=system, created_at=utcnow())
        session.add(row)
    row.jurisdiction = jurisdiction
    row.reads = reads
    row.channels = ",".join(dict.fromkeys(channels))
    row.unit_id = unit_id
    session.flush()
    return row


def create_api_key(
    session: Session,
    *,
    system: str,
    jurisdiction: str | None = None,
    reads: str = "own",
    channels: tuple[str, ...] = ("hotline",),
    unit_id: str | None = None,
) -> tuple[int, str]:
    """A new API key for an external system; returns (id, key). The key is not stored.
    With `jurisdiction` the system is registered (or its scope changed) first; without
    it the system must be registered already."""
    system = system.strip()
    if not system:
        raise ValueError("系统名称不能为空")
    if jurisdiction is not None:
        register_system(
            session,
            system=system,
            jurisdiction=jurisdiction,
            reads=reads,
            channels=channels,
            unit_id=unit_id,
        )
    elif session.get(ExternalSystem, system) is None:
        raise ValueError(f"系统 {system} 尚未登记：请用 --jurisdiction 指明它服务的辖区")
    key = APIKEY_PREFIX + secrets.token_urlsafe(32)
    row = Credential(
        kind="apikey", secret_hash=_hash_secret(key), system=system, created_at=utcnow()
    )
    session.add(row)
    session.flush()
    return row.id, key


def revoke(session: Session, credential_id: int) -> bool:
    row = session.get(Credential, credential_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return True


def authenticate(session: Session, secret: str, kind: str) -> Principal | None:
    """The principal behind a presented secret, or None if unknown or revoked."""
    row = session.scalar(select(Credential).where(Credential.secret_hash == _hash_secret(secret)))
    if row is None or row.revoked_at is not None or row.kind != kind:
        return None
    if row.kind != "apikey":
        return Principal(row.id, row.kind, row.unit_id, row.role)
    system = session.get(ExternalSystem, row.system or "")
    if system is None:
        return None  # a key of a system no longer registered acts for nobody
    return system_principal(system, row.id)


def system_principal(system: ExternalSystem, credential_id: int = 0) -> Principal:
    """An external system as the visibility policy sees it, with its scope."""
    return Principal(
        credential_id,
        "apikey",
        unit_id=system.unit_id,
        system=system.name,
        jurisdiction=system.jurisdiction,
        reads=system.reads,
        channels=tuple(c for c in system.channels.split(",") if c),
    )


# --- personal data -----------------------------------------------------------------


class DataProtector:
    """Encrypts personal data (AES-256-GCM) and hashes it for look-ups (HMAC-SHA256).

    Keys rotate: the current key encrypts and hashes; earlier keys (given as
    `previous`) still decrypt what they sealed and still find what they hashed.
    Each ciphertext starts with the id of its key (a fingerprint, not the key).
    """

    def __init__(self, secret_key: bytes, previous: tuple[bytes, ...] = ()) -> None:
        if not secret_key:
            raise ValueError("empty secret key")
        self._keys = [_DerivedKey(k) for k in (secret_key, *previous) if k]
        self._current = self._keys[0]
        self._by_id = {k.key_id: k for k in self._keys}
        self.key_id = self._current.key_id

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(12)
        key = self._current
        sealed = AESGCM(key.enc).encrypt(nonce, value.encode(), key.key_id.encode())
        return f"{key.key_id}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        key_id, _, body = token.partition(":")
        key = self._by_id.get(key_id)
        if key is None:
            raise ValueError(f"no key {key_id!r} to decrypt with")
        raw = base64.urlsafe_b64decode(body)
        return AESGCM(key.enc).decrypt(raw[:12], raw[12:], key_id.encode()).decode()

    def is_current(self, token: str) -> bool:
        return token.startswith(f"{self.key_id}:")

    def lookup_hash(self, value: str) -> str:
        """The hash to store, under the current key."""
        return self._current.hash(value)

    def lookup_hashes(self, value: str) -> list[str]:
        """Every hash a stored row may carry for `value`, current key first."""
        return [k.hash(value) for k in self._keys]


class _DerivedKey:
    def __init__(self, secret: bytes) -> None:
        self.enc = hashlib.sha256(b"xinfang/enc/" + secret).digest()
        self.mac = hashlib.sha256(b"xinfang/mac/" + secret).digest()
        self.key_id = "k" + hashlib.sha256(b"xinfang/id/" + secret).hexdigest()[:8]

    def hash(self, value: str) -> str:
        return hmac.new(self.mac, value.encode(), hashlib.sha256).hexdigest()


def accused_unit_in(data: Mapping[str, Any] | None) -> str | None:
    """The unit a report accuses, from an event's payload or a stored record: as intake
    placed it (`accused_unit`, shared.visibility.derive_accused), else as given."""
    data = data or {}
    placed = data.get("accused_unit") or (data.get("accused") or {}).get("unit_id")
    return str(placed) if placed else None


def mask_phone(phone: str | None) -> str | None:
    """13800138000 → 138****8000."""
    if not phone:
        return phone
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(number: str | None) -> str | None:
    """110105194912310021 → 110105********0021."""
    if not number:
        return number
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_name(name: str | None) -> str | None:
    """张三 → 张*; 欧阳娜娜 → 欧***."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)
