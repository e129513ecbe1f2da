"""Tokens inside the posted QR codes (码上访): signed, so a forged or altered token
is refused without a database look-up; carrying the site, its token version (bumped
to revoke) and an optional expiry. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,120}\.[A-Za-z0-9_-]{22}$")


@dataclass(frozen=True)
class QrClaims:
    site_id: str
    version: int
    expires: int  # Unix seconds; 0 for never


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16])


def signing_key(secret: bytes) -> bytes:
    return hashlib.sha256(b"xinfang/qr/" + secret).digest()


def sign(key: bytes, claims: QrClaims) -> str:
    payload = _b64(f"{claims.site_id}|{claims.version}|{claims.expires}".encode())
    return f"{payload}.{_mac(key, payload)}"


def verify(key: bytes, token: str, now: int) -> QrClaims | None:
    """The claims of a genuine, unexpired token; None for anything else."""
    if not TOKEN.fullmatch(token):
        return None
    payload, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    try:
        site_id, version, expires = _unb64(payload).decode().split("|")
        claims = QrClaims(site_id, int(version), int(expires))
    except (ValueError, UnicodeDecodeError):
        return None
    if claims.expires and claims.expires < now:
        return None
    return claims
