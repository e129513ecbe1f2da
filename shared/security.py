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


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member of a unit in a role, or an external system."""

    credential_id: int
    kind: str
    unit_id: str | None = None
    role: str | None = None
    system: str | None = None

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


def create_api_key(session: Session, *, system: str) -> tuple[int, str]:
    """A new API key for an external system; returns (id, key). The key is not stored."""
    system = system.strip()
    if not system:
        raise ValueError("系统名称不能为空")
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
    return Principal(row.id, row.kind, row.unit_id, row.role, row.system)


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


def accused_unit_of(accused: Mapping[str, Any] | None) -> str | None:
    """The unit a report's `accused` (name, position, unit_id) names, if any."""
    return (accused or {}).get("unit_id")


def hidden_from(who: Principal, accused_unit: str | None) -> bool:
    """A report never reaches the unit it accuses (arts. 30, 46): not its record, not
    its deadlines, not its notices, whatever the role of the unit's staff."""
    return who.kind == "token" and bool(accused_unit) and who.unit_id == accused_unit


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
