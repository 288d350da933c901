"""The backup archive's encryption: a random key per archive, AES-256-GCM in chunks, and that key
protected by a passphrase (scrypt) or by an AES key that never leaves a PKCS#11 token.

An archive file is::

    MAGIC (8 bytes) | header length (4 bytes, big-endian) | header (JSON) | SHA-256 of what precedes (32 bytes)
    chunk 0 | chunk 1 | ... | final chunk

The header says the format version, the cipher, the chunk size, the nonce prefix and how the
archive key is protected: the scrypt salt and cost with the wrapped key, or the token key's URI
(never a PIN) with the wrapped key. It holds no secret. Its checksum only tells a damaged header
from a wrong passphrase; what authenticates the header is that every chunk is sealed with the
whole header as associated data. Chunk ``i`` is AES-256-GCM with the nonce ``prefix (7 bytes) ||
i (4 bytes) || final (1 byte)`` (the STREAM construction), so a chunk changed, moved or dropped,
or a file cut short, never decrypts. Every chunk but the final one holds exactly ``chunk_size``
bytes; the final one holds fewer (perhaps none), so the reader always knows where the end is.

The key is wrapped with RFC 5649 (AES key wrap with padding), by the scrypt-derived key or by the
token (``station.security.pkcs11.wrap``): its integrity check tells a wrong passphrase or another
token's key from a damaged chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding, aes_key_wrap_with_padding

from station.domain.errors import BackupError, KeyStoreError
from station.security.pkcs11.wrap import DataKey, TokenKeyWrapper
from station.security.vault import DEFAULT_SCRYPT_N, MAXIMUM_SCRYPT_N, MINIMUM_PASSPHRASE_LENGTH, SCRYPT_P, SCRYPT_R

MAGIC: Final = b"STNBKUP\x00"
FORMAT: Final = "station-backup"
VERSION: Final = 1
CIPHER: Final = "AES-256-GCM"
PASSPHRASE: Final = "passphrase"
PKCS11: Final = "pkcs11"
DEFAULT_CHUNK_SIZE: Final = 1 << 20
CHUNK_SIZE_RANGE: Final = (1 << 12, 1 << 26)
TAG_BYTES: Final = 16
NONCE_PREFIX_BYTES: Final = 7
SALT_BYTES: Final = 16
_MAXIMUM_HEADER_BYTES: Final = 64 * 1024
_CHECKSUM_BYTES: Final = 32
_MAXIMUM_CHUNKS: Final = 1 << 32


@dataclass(frozen=True)
class ArchiveHeader:
    """The clear header of an archive (nothing secret); ``encoded`` is its bytes as written, the
    associated data of every chunk."""

    chunk_size: int
    nonce_prefix: bytes
    protection: str  # PASSPHRASE or PKCS11
    wrapped_key: bytes
    salt: bytes = b""
    scrypt_n: int = 0
    scrypt_r: int = 0
    scrypt_p: int = 0
    token_uri: str | None = None  # the token's wrapping key, for PKCS11

    @property
    def encoded(self) -> bytes:
        key: dict[str, object] = {"protection": self.protection, "wrapped": self.wrapped_key.hex()}
        if self.protection == PASSPHRASE:
            key.update(kdf="scrypt", salt=self.salt.hex(), n=self.scrypt_n, r=self.scrypt_r, p=self.scrypt_p)
        else:
            key.update(uri=self.token_uri, mechanism="AES-KEY-WRAP-PAD")
        document = {"format": FORMAT, "version": VERSION, "cipher": CIPHER, "chunk_size": self.chunk_size,
                    "nonce_prefix": self.nonce_prefix.hex(), "key": key}  # fmt: skip
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")
        prefix = MAGIC + len(body).to_bytes(4, "big") + body
        return prefix + hashlib.sha256(prefix).digest()

    def describe(self) -> str:
        """How the archive's key is protected, for messages."""
        if self.protection == PASSPHRASE:
            return "a passphrase"
        return f"the token key {self.token_uri}"


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def protect_with_passphrase(
    key: DataKey, passphrase: str, *, scrypt_n: int = DEFAULT_SCRYPT_N, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> ArchiveHeader:
    """A header whose key is wrapped under the passphrase (scrypt, as the vault's)."""
    if len(passphrase) < MINIMUM_PASSPHRASE_LENGTH:
        raise BackupError(f"a backup passphrase must be at least {MINIMUM_PASSPHRASE_LENGTH} characters")
    salt = os.urandom(SALT_BYTES)
    wrapped = aes_key_wrap_with_padding(_derive(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P), key.reveal())
    return ArchiveHeader(chunk_size, os.urandom(NONCE_PREFIX_BYTES), PASSPHRASE, wrapped, salt, scrypt_n,
                         SCRYPT_R, SCRYPT_P)  # fmt: skip


def protect_with_token(
    key: DataKey, wrapper: TokenKeyWrapper, token_uri: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> ArchiveHeader:
    """A header whose key is wrapped by the token's AES key (``token_uri`` names it, without a PIN)."""
    return ArchiveHeader(chunk_size, os.urandom(NONCE_PREFIX_BYTES), PKCS11, wrapper.wrap(key), token_uri=token_uri)


def unlock_with_passphrase(header: ArchiveHeader, passphrase: str) -> DataKey:
    """The archive key; BackupError when the passphrase is not the one it was made with."""
    if header.protection != PASSPHRASE:
        raise BackupError(f"this archive is protected by {header.describe()}, not by a passphrase")
    kek = _derive(passphrase, header.salt, header.scrypt_n, header.scrypt_r, header.scrypt_p)
    try:
        return DataKey(aes_key_unwrap_with_padding(kek, header.wrapped_key))
    except (InvalidUnwrap, KeyStoreError):
        raise BackupError("wrong backup passphrase: the archive's key does not unwrap with it; nothing was "
                          "written") from None


def unlock_with_token(header: ArchiveHeader, wrapper: TokenKeyWrapper) -> DataKey:
    """The archive key, unwrapped by the token; BackupError when another key wrapped it."""
    if header.protection != PKCS11:
        raise BackupError("this archive is protected by a passphrase, not by a token key")
    try:
        return wrapper.unwrap(header.wrapped_key)
    except KeyStoreError as error:
        raise BackupError(f"the archive's key does not unwrap with {wrapper.label!r}: {error}") from None


def read_header(stream: BinaryIO, name: str) -> ArchiveHeader:
    """The header at the start of ``stream`` (left just after it); BackupError naming what is wrong."""
    start = stream.read(len(MAGIC) + 4)
    if start[: len(MAGIC)] != MAGIC:
        raise BackupError(f"{name} is not a station backup archive (it does not start as one)")
    if len(start) < len(MAGIC) + 4:
        raise BackupError(f"{name} is cut short inside its header")
    length = int.from_bytes(start[len(MAGIC):], "big")
    if length > _MAXIMUM_HEADER_BYTES:
        raise BackupError(f"{name}: the archive's header is damaged (it claims {length} bytes)")
    body = stream.read(length)
    checksum = stream.read(_CHECKSUM_BYTES)
    if len(body) < length or len(checksum) < _CHECKSUM_BYTES:
        raise BackupError(f"{name} is cut short inside its header")
    if hashlib.sha256(start + body).digest() != checksum:
        raise BackupError(f"{name}: the archive's header is damaged (its checksum differs); nothing was written")
    try:
        header = _parse_header(json.loads(body.decode("ascii")))
    except (ValueError, TypeError, KeyError) as error:
        raise BackupError(f"{name}: the archive's header is not one this station reads ({error})") from None
    if header.encoded != start + body + checksum:
        raise BackupError(f"{name}: the archive's header is not in this station's canonical form")
    return header


def _parse_header(document: dict[str, object]) -> ArchiveHeader:
    if document.get("format") != FORMAT:
        raise ValueError("it is not a station backup")
    if document.get("version") != VERSION:
        raise ValueError(f"format version {document.get('version')!r}; this station reads version {VERSION}")
    if document.get("cipher") != CIPHER:
        raise ValueError(f"cipher {document.get('cipher')!r}")
    chunk_size = document["chunk_size"]
    if not isinstance(chunk_size, int) or not CHUNK_SIZE_RANGE[0] <= chunk_size <= CHUNK_SIZE_RANGE[1]:
        raise ValueError("chunk size out of range")
    nonce_prefix = bytes.fromhex(str(document["nonce_prefix"]))
    key = document["key"]
    if len(nonce_prefix) != NONCE_PREFIX_BYTES or not isinstance(key, dict):
        raise ValueError("nonce prefix or key description malformed")
    wrapped = bytes.fromhex(str(key["wrapped"]))
    if key.get("protection") == PASSPHRASE:
        n, r, p = key["n"], key["r"], key["p"]
        if not (isinstance(n, int) and 2 <= n <= MAXIMUM_SCRYPT_N and not n & (n - 1)):
            raise ValueError("scrypt cost n is not a power of two up to 2**20")
        if not (isinstance(r, int) and 1 <= r <= 32 and isinstance(p, int) and 1 <= p <= 16):
            raise ValueError("scrypt r or p out of range")
        salt = bytes.fromhex(str(key["salt"]))
        return ArchiveHeader(chunk_size, nonce_prefix, PASSPHRASE, wrapped, salt, n, r, p)
    if key.get("protection") == PKCS11 and isinstance(key.get("uri"), str):
        return ArchiveHeader(chunk_size, nonce_prefix, PKCS11, wrapped, token_uri=str(key["uri"]))
    raise ValueError(f"key protection {key.get('protection')!r}")


def _nonce(header: ArchiveHeader, index: int, final: bool) -> bytes:
    if index >= _MAXIMUM_CHUNKS:
        raise BackupError("the archive is too large for its chunk size")
    return header.nonce_prefix + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


class ArchiveWriter:
    """Encrypts what is written to it into ``stream``, chunk by chunk; :meth:`close` seals the end."""

    def __init__(self, stream: BinaryIO, header: ArchiveHeader, key: DataKey) -> None:
        self._stream = stream
        self._header = header
        self._associated = header.encoded
        self._cipher = AESGCM(key.reveal())
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        stream.write(self._associated)

    def write(self, data: bytes) -> int:
        self._buffer += data
        size = self._header.chunk_size
        while len(self._buffer) >= size:
            self._seal(bytes(self._buffer[:size]), final=False)
            del self._buffer[:size]
        return len(data)

    def close(self) -> None:
        """Seal the final chunk (shorter than a whole one, maybe empty); idempotent."""
        if not self._closed:
            self._closed = True
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._stream.flush()

    def _seal(self, plaintext: bytes, *, final: bool) -> None:
        self._stream.write(self._cipher.encrypt(_nonce(self._header, self._index, final), plaintext,
                                                self._associated))  # fmt: skip
        self._index += 1

    def __repr__(self) -> str:
        return f"ArchiveWriter(chunk {self._index})"


class ArchiveReader:
    """The plaintext of an archive, read from ``stream`` (positioned after the header); every chunk
    is authenticated before a byte of it is handed out. BackupError on any damage."""

    def __init__(self, stream: BinaryIO, header: ArchiveHeader, key: DataKey, name: str) -> None:
        self._stream = stream
        self._header = header
        self._associated = header.encoded
        self._cipher = AESGCM(key.reveal())
        self._name = name
        self._buffer = bytearray()
        self._index = 0
        self._offset = len(self._associated)
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            self._open_next()
        taken = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:taken])
        del self._buffer[:taken]
        return data

    def finish(self) -> None:
        """Read to the sealed end: BackupError unless the final chunk is there, and last."""
        while not self._ended:
            self._open_next()
            self._buffer.clear()
        self._buffer.clear()

    def _open_next(self) -> None:
        whole = self._header.chunk_size + TAG_BYTES
        sealed = self._stream.read(whole)
        final = len(sealed) < whole
        where = f"chunk {self._index} (byte {self._offset})"
        if final and len(sealed) < TAG_BYTES:
            raise BackupError(f"{self._name} is cut short at {where}: its sealed end is missing; nothing was written")
        try:
            plaintext = self._cipher.decrypt(_nonce(self._header, self._index, final), sealed, self._associated)
        except InvalidTag:
            raise BackupError(f"{self._name} is damaged or cut short at {where}: it does not authenticate; "
                              "nothing was written") from None
        self._buffer += plaintext
        self._index += 1
        self._offset += len(sealed)
        self._ended = final  # a file read returns less than asked only at its end: bytes added make it fail

    def __repr__(self) -> str:
        return f"ArchiveReader({self._name}, chunk {self._index})"
