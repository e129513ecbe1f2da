"""Personal-data protection and masking."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from shared.security import DataProtector, mask_id_number, mask_name, mask_phone


def test_personal_data_is_encrypted_and_findable_by_keyed_hash() -> None:
    protector = DataProtector(b"key-one")
    sealed = protector.encrypt("13800138000")
    assert "13800138000" not in sealed
    assert sealed != protector.encrypt("13800138000")  # a fresh nonce each time
    assert protector.decrypt(sealed) == "13800138000"
    assert protector.lookup_hash("13800138000") == protector.lookup_hash("13800138000")
    assert protector.lookup_hash("13800138000") != DataProtector(b"key-two").lookup_hash(
        "13800138000"
    )


def test_a_tampered_or_foreign_ciphertext_is_refused() -> None:
    sealed = DataProtector(b"key-one").encrypt("11010519491231002X")
    with pytest.raises(ValueError, match="no key"):
        DataProtector(b"key-two").decrypt(sealed)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises((InvalidTag, ValueError)):
        DataProtector(b"key-one").decrypt(flipped)


def test_masks() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("张三") == "张*"
    assert mask_phone(None) is None


def test_after_a_rotation_old_data_is_read_and_found_with_the_previous_key() -> None:
    old = DataProtector(b"key-one")
    sealed, digest = old.encrypt("13800138000"), old.lookup_hash("13800138000")
    rotated = DataProtector(b"key-two", (b"key-one",))
    assert rotated.decrypt(sealed) == "13800138000"
    assert not rotated.is_current(sealed)
    assert rotated.is_current(rotated.encrypt("x"))
    assert digest in rotated.lookup_hashes("13800138000")
    assert rotated.lookup_hash("13800138000") != digest  # new rows hash under the new key
