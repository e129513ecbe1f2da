"""Query codes: unguessable, and easy to read aloud over a phone (no 0/O/1/I)."""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: 5 bits each


def new_query_code(groups: int = 3, size: int = 4) -> str:
    """`K7QM-4TZP-9WXA`: 12 symbols, 60 bits of randomness."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(size)) for _ in range(groups))


def normalize_query_code(code: str) -> str:
    """Accept what a petitioner types: lower case, spaces, missing dashes."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))
