"""The posted codes' tokens, pure: signed over (site, version, expiry), URL-safe,
refused without a database when forged, altered or expired."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from intake_api.qrcodes import QrClaims, sign, signing_key, verify

KEY = signing_key(b"test-secret-key-not-for-production")
NOW = 1_800_000_000
CLAIMS = QrClaims("a1b2c3d4e5f6", 3, NOW + 86_400)


def test_a_genuine_token_gives_back_its_claims() -> None:
    token = sign(KEY, CLAIMS)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token), "URL-safe, no padding"
    assert verify(KEY, token, NOW) == CLAIMS
    assert verify(KEY, sign(KEY, QrClaims("a1b2c3d4e5f6", 1, 0)), NOW) is not None  # no expiry


def test_the_key_is_derived_and_separated_from_the_secret() -> None:
    assert KEY != b"test-secret-key-not-for-production"
    assert len(KEY) == 32
    assert signing_key(b"other") != KEY


def test_expiry_version_and_site_are_all_signed() -> None:
    token = sign(KEY, CLAIMS)
    assert verify(KEY, token, CLAIMS.expires + 1) is None
    payload, mac = token.split(".")
    for other in (
        QrClaims(CLAIMS.site_id, CLAIMS.version + 1, CLAIMS.expires),
        QrClaims(CLAIMS.site_id, CLAIMS.version, 0),
        QrClaims("ffffffffffff", CLAIMS.version, CLAIMS.expires),
    ):
        swapped = f"{sign(KEY, other).split('.')[0]}.{mac}"
        assert verify(KEY, swapped, NOW) is None


def test_another_key_is_refused() -> None:
    assert verify(signing_key(b"another county"), sign(KEY, CLAIMS), NOW) is None


def test_every_single_character_change_is_refused() -> None:
    token = sign(KEY, CLAIMS)
    alphabet = "AZaz09-_."
    for i, ch in enumerate(token):
        for other in alphabet:
            if other != ch:
                altered = token[:i] + other + token[i + 1 :]
                assert verify(KEY, altered, NOW) is None, altered


@given(st.text(max_size=600))
def test_any_text_is_refused_without_raising(text: str) -> None:
    assert verify(KEY, text, NOW) is None


@given(st.from_regex(r"[A-Za-z0-9_-]{8,120}\.[A-Za-z0-9_-]{22}", fullmatch=True))
def test_well_formed_forgeries_are_refused(text: str) -> None:
    assert verify(KEY, text, NOW) is None


@given(
    site_id=st.text("0123456789abcdef", min_size=4, max_size=20),  # ids: 12 hex
    version=st.integers(1, 10_000),
    expires=st.one_of(st.just(0), st.integers(NOW + 1, NOW + 10**9)),
)
def test_round_trip(site_id: str, version: int, expires: int) -> None:
    claims = QrClaims(site_id, version, expires)
    assert verify(KEY, sign(KEY, claims), NOW) == claims
