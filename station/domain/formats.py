"""Binary formats the station writes into a unit's flash and the unit's firmware reads.

Defined once here and shared by the station and the simulated units so that both sides
agree byte for byte. Both formats are little-endian, versioned, and protected by CRC32:

Application header (``SAPH``), at the start of the recipe's application-header region::

    magic "SAPH" | version u16 | header_size u16 | app_address u32 | app_size u32 |
    app_sha256 32 bytes | firmware_version 32 bytes (UTF-8, NUL padded) | crc32 u32

Tagged region (``SCRD`` credential store, ``SKEY`` device key store)::

    magic 4 bytes | version u16 | entry_count u16 | payload_length u32 | crc32 u32 |
    payload = entry_count x (tag u16 | length u32 | value)

The CRC of a tagged region covers the first 12 header bytes and the payload. Erased flash
(0xFF) after the structure is ignored.
"""

from __future__ import annotations

import enum
import hashlib
import struct
import zlib
from dataclasses import dataclass, field

from station.domain.errors import FormatError

APP_HEADER_MAGIC = b"SAPH"
APP_HEADER_VERSION = 1
_APP_HEADER = struct.Struct("<4sHHII32s32s")
APP_HEADER_SIZE = _APP_HEADER.size + 4

CREDENTIALS_MAGIC = b"SCRD"
KEY_STORE_MAGIC = b"SKEY"
TAGGED_REGION_VERSION = 1
_REGION_HEADER = struct.Struct("<4sHHI")
_REGION_HEADER_SIZE = _REGION_HEADER.size + 4
_ENTRY_HEADER = struct.Struct("<HI")


def crc32(data: bytes) -> int:
    """CRC-32 (IEEE 802.3), as the unit's boot code computes it."""
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(frozen=True)
class ApplicationHeader:
    """Describes the application image so a unit (and the station) can tell it is intact."""

    app_address: int
    app_size: int
    app_sha256: bytes
    firmware_version: str

    @classmethod
    def for_image(cls, app_address: int, image: bytes, firmware_version: str) -> ApplicationHeader:
        return cls(app_address, len(image), hashlib.sha256(image).digest(), firmware_version)

    def encode(self) -> bytes:
        version = self.firmware_version.encode("utf-8")
        if len(version) > 32:
            raise FormatError(f"firmware version {self.firmware_version!r} is longer than 32 bytes")
        if len(self.app_sha256) != 32:
            raise FormatError("application SHA-256 must be 32 bytes")
        body = _APP_HEADER.pack(
            APP_HEADER_MAGIC,
            APP_HEADER_VERSION,
            APP_HEADER_SIZE,
            self.app_address,
            self.app_size,
            self.app_sha256,
            version.ljust(32, b"\0"),
        )
        return body + struct.pack("<I", crc32(body))

    @classmethod
    def decode(cls, data: bytes) -> ApplicationHeader:
        if len(data) < APP_HEADER_SIZE:
            raise FormatError("application header is truncated")
        magic, version, size, address, app_size, digest, raw_version = _APP_HEADER.unpack_from(data)
        if magic != APP_HEADER_MAGIC:
            raise FormatError("no application header (bad magic)")
        if version != APP_HEADER_VERSION:
            raise FormatError(f"unsupported application header version {version}")
        if size != APP_HEADER_SIZE:
            raise FormatError(f"application header size {size} does not match version {version}")
        (stored_crc,) = struct.unpack_from("<I", data, _APP_HEADER.size)
        if crc32(data[: _APP_HEADER.size]) != stored_crc:
            raise FormatError("application header CRC mismatch")
        try:
            firmware_version = raw_version.rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError as error:
            raise FormatError("application header firmware version is not UTF-8") from error
        return cls(address, app_size, digest, firmware_version)

    def matches(self, image: bytes) -> bool:
        """True when ``image`` is exactly the application this header describes."""
        return len(image) == self.app_size and hashlib.sha256(image).digest() == self.app_sha256


def encode_tagged_region(magic: bytes, entries: list[tuple[int, bytes]]) -> bytes:
    """Pack ``(tag, value)`` pairs into a versioned, CRC-protected region."""
    if len(magic) != 4:
        raise FormatError("region magic must be 4 bytes")
    payload = b"".join(_ENTRY_HEADER.pack(tag, len(value)) + value for tag, value in entries)
    header = _REGION_HEADER.pack(magic, TAGGED_REGION_VERSION, len(entries), len(payload))
    return header + struct.pack("<I", crc32(header + payload)) + payload


def decode_tagged_region(magic: bytes, data: bytes) -> list[tuple[int, bytes]]:
    """Unpack a region written by :func:`encode_tagged_region`; any damage is a FormatError."""
    if len(data) < _REGION_HEADER_SIZE:
        raise FormatError("region is truncated")
    found_magic, version, count, length = _REGION_HEADER.unpack_from(data)
    if found_magic == b"\xff\xff\xff\xff":
        raise FormatError("region is empty (erased)")
    if found_magic != magic:
        raise FormatError(f"region magic is {found_magic!r}, expected {magic!r}")
    if version != TAGGED_REGION_VERSION:
        raise FormatError(f"unsupported region version {version}")
    end = _REGION_HEADER_SIZE + length
    if end > len(data):
        raise FormatError("region payload runs past the region")
    (stored_crc,) = struct.unpack_from("<I", data, _REGION_HEADER.size)
    payload = data[_REGION_HEADER_SIZE:end]
    if crc32(data[: _REGION_HEADER.size] + payload) != stored_crc:
        raise FormatError("region CRC mismatch")
    entries: list[tuple[int, bytes]] = []
    offset = 0
    for _ in range(count):
        if offset + _ENTRY_HEADER.size > len(payload):
            raise FormatError("region entry header runs past the payload")
        tag, value_length = _ENTRY_HEADER.unpack_from(payload, offset)
        offset += _ENTRY_HEADER.size
        if offset + value_length > len(payload):
            raise FormatError("region entry runs past the payload")
        entries.append((tag, payload[offset : offset + value_length]))
        offset += value_length
    if offset != len(payload):
        raise FormatError("region payload has trailing bytes")
    return entries


class CredentialTag(enum.IntEnum):
    """Entry tags of the credential region (after Pelion's factory configurator items)."""

    DEVICE_PRIVATE_KEY = 1  # PKCS#8 DER, station-generated plan only
    DEVICE_CERTIFICATE = 2  # X.509 DER
    CA_CERTIFICATE = 3  # X.509 DER, repeated, issuer chain from the device's issuer upwards
    ENDPOINT_NAME = 4  # UTF-8
    SERVER_URI = 5  # UTF-8, device-management server
    UPDATE_AUTH_CERTIFICATE = 6  # X.509 DER, firmware-update authenticity
    UPDATE_VENDOR_ID = 7  # 16 bytes
    UPDATE_CLASS_ID = 8  # 16 bytes


@dataclass(frozen=True)
class CredentialBundle:
    """What the station writes to a unit's credential region.

    The private key is excluded from ``repr`` so that it can never leak into a log line or
    an exception message by accident.
    """

    device_certificate: bytes
    ca_chain: tuple[bytes, ...]
    endpoint_name: str
    server_uri: str
    device_private_key: bytes | None = field(default=None, repr=False)
    update_auth_certificate: bytes | None = None
    update_vendor_id: bytes | None = None
    update_class_id: bytes | None = None

    def encode(self) -> bytes:
        entries: list[tuple[int, bytes]] = []
        if self.device_private_key is not None:
            entries.append((CredentialTag.DEVICE_PRIVATE_KEY, self.device_private_key))
        entries.append((CredentialTag.DEVICE_CERTIFICATE, self.device_certificate))
        entries.extend((CredentialTag.CA_CERTIFICATE, certificate) for certificate in self.ca_chain)
        entries.append((CredentialTag.ENDPOINT_NAME, self.endpoint_name.encode("utf-8")))
        entries.append((CredentialTag.SERVER_URI, self.server_uri.encode("utf-8")))
        if self.update_auth_certificate is not None:
            entries.append((CredentialTag.UPDATE_AUTH_CERTIFICATE, self.update_auth_certificate))
        for tag, identifier in (
            (CredentialTag.UPDATE_VENDOR_ID, self.update_vendor_id),
            (CredentialTag.UPDATE_CLASS_ID, self.update_class_id),
        ):
            if identifier is not None:
                if len(identifier) != 16:
                    raise FormatError(f"{tag.name.lower()} must be 16 bytes")
                entries.append((tag, identifier))
        return encode_tagged_region(CREDENTIALS_MAGIC, entries)

    @classmethod
    def decode(cls, data: bytes) -> CredentialBundle:
        values: dict[int, list[bytes]] = {}
        for tag, value in decode_tagged_region(CREDENTIALS_MAGIC, data):
            if tag not in CredentialTag.__members__.values():
                raise FormatError(f"unknown credential entry tag {tag}")
            values.setdefault(tag, []).append(value)

        def single(tag: CredentialTag, *, required: bool) -> bytes | None:
            found = values.get(tag, [])
            if len(found) > 1:
                raise FormatError(f"credential entry {tag.name} appears more than once")
            if not found and required:
                raise FormatError(f"credential entry {tag.name} is missing")
            return found[0] if found else None

        try:
            endpoint = (single(CredentialTag.ENDPOINT_NAME, required=True) or b"").decode("utf-8")
            server_uri = (single(CredentialTag.SERVER_URI, required=True) or b"").decode("utf-8")
        except UnicodeDecodeError as error:
            raise FormatError("credential text entry is not UTF-8") from error
        certificate = single(CredentialTag.DEVICE_CERTIFICATE, required=True)
        assert certificate is not None
        return cls(
            device_certificate=certificate,
            ca_chain=tuple(values.get(CredentialTag.CA_CERTIFICATE, [])),
            endpoint_name=endpoint,
            server_uri=server_uri,
            device_private_key=single(CredentialTag.DEVICE_PRIVATE_KEY, required=False),
            update_auth_certificate=single(CredentialTag.UPDATE_AUTH_CERTIFICATE, required=False),
            update_vendor_id=single(CredentialTag.UPDATE_VENDOR_ID, required=False),
            update_class_id=single(CredentialTag.UPDATE_CLASS_ID, required=False),
        )


class KeyStoreTag(enum.IntEnum):
    """Entry tags of the device's own key store (device-generated plan)."""

    DEVICE_PRIVATE_KEY = 1  # PKCS#8 DER, made by the unit, never leaves it


def encode_key_store(private_key_der: bytes) -> bytes:
    return encode_tagged_region(KEY_STORE_MAGIC, [(KeyStoreTag.DEVICE_PRIVATE_KEY, private_key_der)])


def decode_key_store(data: bytes) -> bytes:
    """Return the private key the unit keeps in its key store."""
    entries = decode_tagged_region(KEY_STORE_MAGIC, data)
    keys = [value for tag, value in entries if tag == KeyStoreTag.DEVICE_PRIVATE_KEY]
    if len(keys) != 1:
        raise FormatError("key store must hold exactly one device key")
    return keys[0]
