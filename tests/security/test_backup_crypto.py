"""The backup archive's encryption: chunked AES-256-GCM under a random key that a passphrase
(scrypt) or a token's AES key protects; any change, cut or wrong secret is refused by name."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

from station.domain.errors import BackupError
from station.security.backup_crypto import (
    MAGIC,
    TAG_BYTES,
    ArchiveHeader,
    ArchiveReader,
    ArchiveWriter,
    protect_with_passphrase,
    protect_with_token,
    read_header,
    unlock_with_passphrase,
    unlock_with_token,
)
from station.security.pkcs11.uri import ObjectType
from station.security.pkcs11.wrap import DataKey, generate_wrapping_key

from .softhsm import SoftHsm

PASSPHRASE = "backup passphrase 4417-kestrel"
CHUNK = 4096
# Ending short of a chunk, on a chunk boundary, and empty: the final chunk is always shorter.
SIZES = [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK, 3 * CHUNK + 17]


def seal(plaintext: bytes, header: ArchiveHeader, key: DataKey) -> bytes:
    out = io.BytesIO()
    writer = ArchiveWriter(out, header, key)
    for start in range(0, len(plaintext), 1000):  # written in pieces that do not match the chunks
        writer.write(plaintext[start:start + 1000])
    writer.close()
    return out.getvalue()


def open_sealed(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    stream = io.BytesIO(data)
    header = read_header(stream, "archive")
    reader = ArchiveReader(stream, header, unlock_with_passphrase(header, passphrase), "archive")
    plaintext = reader.read(7) + reader.read()
    reader.finish()
    return plaintext


def sealed_with_passphrase(plaintext: bytes) -> bytes:
    key = DataKey.generate()
    return seal(plaintext, protect_with_passphrase(key, PASSPHRASE, scrypt_n=2**10, chunk_size=CHUNK), key)


@pytest.mark.parametrize("size", SIZES)
def test_what_is_sealed_opens_unchanged(size: int) -> None:
    plaintext = os.urandom(size)
    sealed = sealed_with_passphrase(plaintext)
    assert open_sealed(sealed) == plaintext
    chunks = size // CHUNK + 1
    header_length = len(read_header(io.BytesIO(sealed), "archive").encoded)
    assert len(sealed) == header_length + size + chunks * TAG_BYTES


def test_the_header_holds_no_secret_and_the_key_is_hidden() -> None:
    key = DataKey.generate()
    header = protect_with_passphrase(key, PASSPHRASE, scrypt_n=2**10)
    sealed = seal(b"station records " * 100, header, key)
    assert PASSPHRASE.encode() not in sealed and key.reveal() not in sealed and b"station records" not in sealed
    body = json.loads(header.encoded[len(MAGIC) + 4:-32])
    assert body["key"]["kdf"] == "scrypt" and body["key"]["n"] == 2**10
    assert len(bytes.fromhex(body["key"]["wrapped"])) == 40  # RFC 5649: the 32-byte key and its check
    assert PASSPHRASE not in repr(header) and key.reveal().hex() not in repr(header)


def test_a_wrong_passphrase_is_refused_by_name() -> None:
    sealed = sealed_with_passphrase(b"x" * 100)
    with pytest.raises(BackupError, match="wrong backup passphrase") as refused:
        open_sealed(sealed, "another passphrase")
    assert PASSPHRASE not in str(refused.value) and "another passphrase" not in str(refused.value)


def test_every_flipped_byte_is_refused() -> None:
    plaintext = os.urandom(2 * CHUNK + 100)
    sealed = sealed_with_passphrase(plaintext)
    header_length = len(read_header(io.BytesIO(sealed), "archive").encoded)
    for position in [0, 10, header_length - 1, header_length, header_length + CHUNK + TAG_BYTES + 5, len(sealed) - 1]:
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        with pytest.raises(BackupError) as refused:
            open_sealed(bytes(damaged))
        assert any(words in str(refused.value) for words in ("damaged", "not a station backup")), position


def test_a_header_changed_with_its_checksum_fixed_does_not_authenticate() -> None:
    key = DataKey.generate()
    header = protect_with_passphrase(key, PASSPHRASE, scrypt_n=2**10, chunk_size=CHUNK)
    sealed = seal(os.urandom(CHUNK + 1), header, key)
    # Another nonce prefix, the checksum recomputed: the chunks were sealed with the old header.
    forged = ArchiveHeader(header.chunk_size, bytes(7), header.protection, header.wrapped_key, header.salt,
                           header.scrypt_n, header.scrypt_r, header.scrypt_p)  # fmt: skip
    with pytest.raises(BackupError, match="does not authenticate"):
        open_sealed(forged.encoded + sealed[len(header.encoded):])


@pytest.mark.parametrize("cut", ["inside the header", "inside a chunk", "at a chunk boundary", "before the end"])
def test_a_file_cut_short_or_lengthened_is_refused(cut: str) -> None:
    sealed = sealed_with_passphrase(os.urandom(2 * CHUNK + 100))
    header_length = len(read_header(io.BytesIO(sealed), "archive").encoded)
    ends = {"inside the header": 20, "inside a chunk": header_length + 100,
            "at a chunk boundary": header_length + 2 * (CHUNK + TAG_BYTES), "before the end": len(sealed) - 1}
    with pytest.raises(BackupError, match="cut short"):
        open_sealed(sealed[:ends[cut]])
    with pytest.raises(BackupError, match="damaged or cut short at chunk 2"):  # a byte added at the end
        open_sealed(sealed + b"\x00")


def test_chunks_moved_are_refused() -> None:
    sealed = sealed_with_passphrase(os.urandom(3 * CHUNK + 5))
    header_length = len(read_header(io.BytesIO(sealed), "archive").encoded)
    whole = CHUNK + TAG_BYTES
    first, second = (sealed[header_length + index * whole:header_length + (index + 1) * whole] for index in (0, 1))
    swapped = sealed[:header_length] + second + first + sealed[header_length + 2 * whole:]
    with pytest.raises(BackupError, match="chunk 0"):
        open_sealed(swapped)
    dropped = sealed[:header_length] + sealed[header_length + whole:]
    with pytest.raises(BackupError, match="chunk 0"):
        open_sealed(dropped)


def test_not_an_archive_and_an_unreadable_header_are_named() -> None:
    with pytest.raises(BackupError, match="not a station backup archive"):
        open_sealed(b"PK\x03\x04" + bytes(100))
    key = DataKey.generate()
    header = protect_with_passphrase(key, PASSPHRASE, scrypt_n=2**10)
    body = header.encoded[len(MAGIC) + 4:-32].replace(b'"version":1', b'"version":9')
    prefix = MAGIC + len(body).to_bytes(4, "big") + body
    with pytest.raises(BackupError, match="this station reads version 1"):
        open_sealed(prefix + hashlib.sha256(prefix).digest())


def test_a_short_passphrase_is_refused() -> None:
    with pytest.raises(BackupError, match="at least 8 characters"):
        protect_with_passphrase(DataKey.generate(), "short")


def test_a_token_key_protects_the_archive(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    wrapper = generate_wrapping_key(session, "backup-key")
    key = DataKey.generate()
    uri = str(softhsm.uri().with_object("backup-key", ObjectType.SECRET_KEY))
    header = protect_with_token(key, wrapper, uri, chunk_size=CHUNK)
    sealed = seal(b"records" * 2000, header, key)
    stream = io.BytesIO(sealed)
    read = read_header(stream, "archive")
    assert read.protection == "pkcs11" and read.token_uri == uri and key.reveal() not in sealed
    reader = ArchiveReader(stream, read, unlock_with_token(read, wrapper), "archive")
    assert reader.read() == b"records" * 2000
    reader.finish()
    with pytest.raises(BackupError, match="not by a passphrase"):
        unlock_with_passphrase(read, PASSPHRASE)
    # Another token's key (another wrapping key in the same token, here) does not unwrap it.
    other = generate_wrapping_key(session, "another-key")
    with pytest.raises(BackupError, match="does not unwrap with 'another-key'"):
        unlock_with_token(read, other)
