"""Envelope encryption round-trips and refuses wrong keys and any alteration; key files."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recordings.crypto import DecryptionError, decrypt_all, read_envelope, seal
from recordings.keys import (
    KeyFileError,
    KeyRing,
    NumberProtector,
    WrongKeyError,
    create_key_file,
    load_key_ring,
    normalize_number,
)


def sealed(data: bytes, ring: KeyRing, context: str = "1732800000.1", chunk: int = 1024) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(data), out, ring, context, chunk=chunk)
    return out.getvalue()


@settings(max_examples=40)
@given(st.binary(max_size=5000), st.integers(1, 700))
def test_round_trip_any_size(data: bytes, chunk: int) -> None:
    ring = KeyRing.generate()
    blob = io.BytesIO()
    facts = seal(io.BytesIO(data), blob, ring, "ctx", chunk=chunk)
    assert facts.plaintext_size == len(data)
    assert decrypt_all(io.BytesIO(blob.getvalue()), ring, "ctx") == data


def test_wrong_key_is_refused_as_wrong_key(ring: KeyRing) -> None:
    blob = sealed(b"audio" * 1000, ring)
    with pytest.raises(WrongKeyError):
        decrypt_all(io.BytesIO(blob), KeyRing.generate())


def test_retired_key_still_decrypts(ring: KeyRing) -> None:
    blob = sealed(b"old audio", ring)
    rotated = KeyRing((KeyRing.generate().current, ring.current))
    assert decrypt_all(io.BytesIO(blob), rotated) == b"old audio"


def test_each_file_gets_its_own_data_key(ring: KeyRing) -> None:
    first, second = sealed(b"same", ring), sealed(b"same", ring)
    assert (
        read_envelope(io.BytesIO(first)).wrapped_key
        != read_envelope(io.BytesIO(second)).wrapped_key
    )
    assert first != second


@pytest.mark.parametrize("where", ["header", "first-chunk", "last-chunk"])
def test_altered_bytes_are_refused(ring: KeyRing, where: str) -> None:
    blob = bytearray(sealed(os.urandom(3000), ring))
    stream = io.BytesIO(bytes(blob))
    read_envelope(stream)
    header_end = stream.tell()
    assert len(blob) - header_end == 3000 + 3 * 16  # chunks of 1024, 1024, 952
    index = {"header": 40, "first-chunk": header_end + 5, "last-chunk": len(blob) - 3}[where]
    blob[index] ^= 0x01
    with pytest.raises((DecryptionError, WrongKeyError)):
        decrypt_all(io.BytesIO(bytes(blob)), ring)


def test_truncation_at_a_chunk_boundary_is_refused(ring: KeyRing) -> None:
    blob = sealed(os.urandom(4096), ring)  # 4 full chunks + 1 empty final chunk
    with pytest.raises(DecryptionError):
        decrypt_all(io.BytesIO(blob[:-16]), ring)


def test_appended_bytes_are_refused(ring: KeyRing) -> None:
    blob = sealed(b"x" * 100, ring)
    with pytest.raises(DecryptionError):
        decrypt_all(io.BytesIO(blob + b"extra bytes beyond the end"), ring)


def test_file_of_another_call_is_refused(ring: KeyRing) -> None:
    blob = sealed(b"call one", ring, context="1.1")
    with pytest.raises(DecryptionError, match="belongs to"):
        decrypt_all(io.BytesIO(blob), ring, expected_context="2.2")


def test_plain_file_is_not_an_envelope(ring: KeyRing) -> None:
    with pytest.raises(DecryptionError):
        decrypt_all(io.BytesIO(b"RIFF....WAVEfmt "), ring)


def test_created_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "recordings.key"
    ring = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert create_key_file(path) == ring  # never overwritten
    assert load_key_ring(path) == ring


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key_ring(path)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "not-hex\n", "abcd\n"])
def test_malformed_key_file_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "k.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(KeyFileError):
        load_key_ring(path)


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        load_key_ring(tmp_path / "nope.key")


def test_number_protection(ring: KeyRing) -> None:
    protector = NumberProtector(ring)
    assert protector.lookup_hash("010-1234-5678") == protector.lookup_hash("010 1234 5678")
    assert protector.lookup_hash("010-1234-5678") != NumberProtector(
        KeyRing.generate()
    ).lookup_hash("010-1234-5678")
    blob = protector.encrypt("010-1234-5678", "call-1")
    assert b"1234" not in blob
    assert protector.decrypt(blob, "call-1", ring.current_id) == "010-1234-5678"
    with pytest.raises(WrongKeyError):
        protector.decrypt(blob, "call-2", ring.current_id)
    with pytest.raises(WrongKeyError):
        NumberProtector(KeyRing.generate()).decrypt(blob, "call-1", ring.current_id)
    assert normalize_number("+82 2-120") == "+822120"
